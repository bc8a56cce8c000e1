// sw.js - the service worker the corpus page would register in a secure
// context: it caches the start page and answers from the cache.
self.addEventListener("install", (e) => {
	e.waitUntil(caches.open("corpus-v1").then((c) => c.addAll(["/"])));
});
self.addEventListener("fetch", (e) => {
	e.respondWith(caches.match(e.request).then((r) => r || fetch(e.request)));
});
