// view.js - rendering helpers of the corpus' single-page application.
export const byPrice = (a, b) => a.price - b.price;

export function render(root, list) {
	root.replaceChildren(...list.map((p) => {
		const div = document.createElement("div");
		div.className = "card" + (p.sale ? " sale" : "");
		div.textContent = `${p.name}: ${p.price.toFixed(2)} EUR`;
		return div;
	}));
}
