// app.js - changes the page's own DOM only: no storage, no network.
document.getElementById("status").textContent = "script ran at " + new Date().toISOString();
