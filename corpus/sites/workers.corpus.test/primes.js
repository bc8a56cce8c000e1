// primes.js - dedicated worker of the corpus: counts the primes below N.
onmessage = (e) => {
	const n = e.data, sieve = new Uint8Array(n + 1);
	let count = 0;
	for (let i = 2; i <= n; i++) {
		if (sieve[i]) continue;
		count++;
		for (let j = i * i; j <= n; j += i) sieve[j] = 1;
	}
	postMessage(count + " primes below " + n);
};
