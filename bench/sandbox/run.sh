#!/bin/sh
# make bench (sandbox part): create + run /bin/true + revert, CYCLES times
# without and with network; percentiles next to the anchors.
#
#   bench/sandbox/run.sh [BUILD_DIR]     env: CYCLES (default 200)
set -eu
build=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cycles=${CYCLES:-200}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$top/$build/bench/sandbox/bench_sandbox" "$cycles" > "$out"
awk '
{ v[$1] = $2 }
function ms(k) { return v[k] / 1e6 }
END {
	printf "Capture sandbox guest: create + run /bin/true + revert, %d cycles each\n\n", v["cycles"]
	printf "%-44s %9s %9s %9s %10s %7s\n", "configuration", "p50 ms", "p95 ms", "max ms", "target p95", "result"
	printf "%-44s %9.1f %9.1f %9.1f %10s %7s\n", "sandbox, network none", ms("none_p50_ns"), ms("none_p95_ns"), ms("none_max_ns"), "<=20 ms", ms("none_p95_ns") <= 20 ? "ok" : "MISSED"
	printf "%-44s %9.1f %9.1f %9.1f %10s %7s\n", "sandbox, network services (veth, netlink)", ms("services_p50_ns"), ms("services_p95_ns"), ms("services_max_ns"), "<=40 ms", ms("services_p95_ns") <= 40 ? "ok" : "MISSED"
	printf "%-44s %9s %9s %9s\n", "anchor: VMware Server revert + tools wait", ">=60000", "", ""
	printf "%-44s %9s %9s %9s\n", "anchor: Cuckoo/CAPE snapshot restore", "2000-3000", "", ""
}' "$out"
