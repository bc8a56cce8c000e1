#!/bin/sh
# make bench (visit part): the per-URL cost of a browser visit through the
# whole pipeline, capture-server -> capture-client -> sandbox guest ->
# browser driver -> verdict, on the benign pages of corpus/expected.tsv.
#
# For each browser, runs with and without the kernel sensor alternate
# (REPEAT pairs; the clients see CAPTURE_BENCH_NO_SENSOR in the second), one
# guest, so visits never overlap.  Per visit:
#   overhead = (progress.log "visited" - "visiting") - visit time
#              (sandbox, sensor load, browser start, verdict, revert)
#   load     = navigation start -> load event, as the driver measured it
#   memory   = the guest's peak memory (cgroup)
# and the ratio of the median page loads with/without the sensor.
#
#   bench/visit/run.sh [BUILD_DIR]   env: REPEAT (default 3), VISIT (seconds, default 2),
#                                         BROWSERS (default "chromium firefox")
set -eu
build=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
repeat=${REPEAT:-3}
visit=${VISIT:-2}
browsers=${BROWSERS:-chromium firefox}
ns=capture-bench-visit
work=$(mktemp -d /tmp/capture-bench-visit.XXXXXX)
chmod 755 "$work"
corpusd_pid=

cleanup() {
	[ -n "$corpusd_pid" ] && kill "$corpusd_pid" 2>/dev/null && wait "$corpusd_pid" 2>/dev/null
	ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

"$top/$build/capture-corpusd" --root "$top/corpus/sites" --netns "$ns" \
	--pidfile "$work/corpusd.pid" --log "$work/corpusd.log" >"$work/corpusd.out" 2>&1 &
corpusd_pid=$!
for _ in $(seq 100); do [ -f "$work/corpusd.pid" ] && break; sleep 0.1; done
[ -f "$work/corpusd.pid" ] || { echo "bench/visit: capture-corpusd did not start" >&2; exit 1; }

# the benign pages (every benign line of expected.tsv with a URL of the corpus sites)
awk -F '\t' '!/^#/ && NF >= 4 && $3 == "benign" && $1 ~ /^http/ { print $1 }' \
	"$top/corpus/expected.tsv" | sort -u >"$work/pages"
[ -s "$work/pages" ] || { echo "bench/visit: no benign pages in corpus/expected.tsv" >&2; exit 1; }

# run BROWSER MODE N: one capture-server run over every page
run() {
	dir="$work/$1-$2-$3"
	mkdir -p "$dir"
	port=$(( 20000 + $$ % 20000 ))
	sed -e "s|@TOP@|$top|g" -e "s|capture-services|$ns|" \
		-e "s|listen-port=\"7070\"|listen-port=\"$port\"|" \
		-e 's|count="2"|count="1"|' "$top/corpus/demo/config.xml.in" >"$dir/config.xml"
	sed "s|\$|::$1::$visit|" "$work/pages" >"$dir/urls.txt"
	echo end >>"$dir/urls.txt"
	if [ "$2" = nosensor ]; then
		(cd "$dir" && CAPTURE_BENCH_NO_SENSOR=1 "$top/$build/capture-server" -c config.xml \
			-f urls.txt >server.out 2>&1) || true
	else
		(cd "$dir" && "$top/$build/capture-server" -c config.xml -f urls.txt \
			>server.out 2>&1) || true
	fi
	# one line per visit: browser mode overhead load_ms memory_mib
	awk -v b="$1" -v m="$2" -v vt="$visit" '
	function secs(t,   a) { split(t, a, /[ :]/); return a[2] * 3600 + a[3] * 60 + a[4] }
	FNR == 1 { f++ }
	f == 1 { gsub(/"/, ""); split($0, c, ","); if (c[2] == "visiting") s[c[3]] = secs(c[1]);
		 else if (c[2] == "visited" && (c[3] in s)) o[c[3]] = secs(c[1]) - s[c[3]] - vt }
	f == 2 && match($0, / loaded in [0-9]+ ms/) { id = $3; sub(/:$/, "", id)
		t = substr($0, RSTART + 11, RLENGTH - 14); l[id] = t + 0 }
	f == 2 && /guest memory peak/ { id = $3; sub(/:$/, "", id); mem[id] = $(NF - 1) }
	END { for (id in o) printf "%s %s %.3f %s %s\n", b, m, o[id], (id in l) ? l[id] : "-",
		(id in mem) ? mem[id] : "-" }' "$dir/log/progress.log" "$dir"/log/client-*.log \
		>>"$work/samples"
}

: >"$work/samples"
for b in $browsers; do
	for i in $(seq "$repeat"); do
		run "$b" sensor "$i"
		run "$b" nosensor "$i"
	done
done

echo "Capture browser visits: $(wc -l <"$work/pages") benign corpus pages, visit time ${visit} s," \
	"1 guest, $repeat runs per configuration (interleaved)"
echo
awk '
function sortv(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } }
function pct(a, n, p,   k) { if (!n) return -1; sortv(a, n); k = int(p * (n - 1) + 0.5) + 1; return a[k] }
{
	k = $1 " " $2; n[k]++; ov[k, n[k]] = $3
	if ($4 != "-") { nl[k]++; ld[k, nl[k]] = $4 }
	if ($5 != "-") { nm[k]++; mm[k, nm[k]] = $5 }
	seen[$1] = 1
}
function column(k, arr, cnt, p,   i, v) { delete v; for (i = 1; i <= cnt; i++) v[i] = arr[k, i]; return pct(v, cnt, p) }
END {
	printf "%-9s %-9s %6s %12s %12s %11s %11s %11s %11s\n", "browser", "sensor", "visits",
	       "overhead p50", "overhead p95", "load p50 ms", "load p95 ms", "mem p50 MiB", "mem max MiB"
	for (b in seen) for (m = 0; m < 2; m++) {
		mode = m ? "nosensor" : "sensor"; k = b " " mode
		if (!n[k]) continue
		printf "%-9s %-9s %6d %11.2fs %11.2fs %11.0f %11.0f %11.0f %11.0f\n", b, m ? "off" : "on", n[k],
		       column(k, ov, n[k], 0.5), column(k, ov, n[k], 0.95), column(k, ld, nl[k], 0.5),
		       column(k, ld, nl[k], 0.95), column(k, mm, nm[k], 0.5), column(k, mm, nm[k], 1)
	}
	print ""
	printf "%-9s %28s %8s %26s %8s\n", "browser", "page load on/off (p50)", "target", "overhead beyond visit (p50)", "target"
	for (b in seen) {
		on = column(b " sensor", ld, nl[b " sensor"], 0.5); off = column(b " nosensor", ld, nl[b " nosensor"], 0.5)
		o = column(b " sensor", ov, n[b " sensor"], 0.5)
		r = (off > 0 && on > 0) ? on / off : -1
		printf "%-9s %27.3fx %8s %25.2fs %8s   %s\n", b, r, "<=1.05x", o, b == "chromium" ? "<=2.5s" : "-",
		       (r > 0 && r <= 1.05 && (b != "chromium" || o <= 2.5)) ? "ok" : "MISSED"
	}
}' "$work/samples"
