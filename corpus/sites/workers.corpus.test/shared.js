// shared.js - SharedWorker of the corpus: answers every port with a count.
let ports = 0;
onconnect = (e) => {
	const port = e.ports[0];
	ports++;
	port.onmessage = (m) => port.postMessage(m.data + " from shared worker, ports " + ports);
};
