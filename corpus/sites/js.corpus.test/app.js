// app.js - the corpus' single-page application (benign).
import { render, byPrice } from "./view.js";

const routes = { "/": "all", "/sale": "sale", "/cheap": "cheap" };
let products = [];
let ticks = 0;

function show(path) {
	const mode = routes[path] || "all";
	let list = products.slice().sort(byPrice);
	if (mode === "sale") list = list.filter((p) => p.sale);
	if (mode === "cheap") list = list.filter((p) => p.price < 20);
	render(document.getElementById("view"), list);
}

function go(path) {
	history.pushState({ path }, "", path === "/" ? "/" : "/#" + path.slice(1));
	show(path);
}

async function main() {
	const res = await fetch("/products.json");
	products = await res.json();
	const nav = document.getElementById("nav");
	for (const path of Object.keys(routes)) {
		const a = document.createElement("a");
		a.href = "#" + path;
		a.textContent = routes[path] + " ";
		a.onclick = (e) => { e.preventDefault(); go(path); };
		nav.appendChild(a);
	}
	show("/");
	const order = ["/sale", "/cheap", "/"];
	const timer = setInterval(() => {
		go(order[ticks % order.length]);
		if (++ticks === 6) {
			clearInterval(timer);
			requestAnimationFrame(() => {
				document.getElementById("status").textContent =
					"rendered " + products.length + " products, " + ticks + " route changes";
			});
		}
	}, 200);
}

main();
