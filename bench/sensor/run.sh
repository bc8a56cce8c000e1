#!/bin/sh
# make bench (sensor part): runs bench_sensor and bench_exclusion and prints
# one table; every ratio is measured side by side in this same run.
#
#   bench/sensor/run.sh [BUILD_DIR]    env: FS_N (fsloop iterations, default 100000),
#                                            EXEC_N (default 1000), REPEAT (default 5)
set -eu
build=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
fs_n=${FS_N:-100000}
exec_n=${EXEC_N:-1000}
repeat=${REPEAT:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$top/$build/bench/sensor/bench_sensor" "$top/etc/exclusion" "$fs_n" "$exec_n" "$repeat" > "$out"
"$top/$build/bench/sensor/bench_exclusion" "$top/etc/exclusion" >> "$out"

awk -v fs_n="$fs_n" -v exec_n="$exec_n" -v repeat="$repeat" '
{ v[$1] = $2 }
function ratio(w, cfg) { return v[w "_" cfg "_ns"] / v[w "_none_ns"] }
function verdict(ok) { return ok ? "ok" : "MISSED" }
END {
	drain_rate = v["drain_records"] / (v["drain_ns"] / 1e9)
	sustained = v["fsloop_inside_records"] / (v["fsloop_inside_ns"] / 1e9)
	filt = v["exclusion_filter_events_per_s"]
	printf "Capture sensor benchmark (median of %d runs; fsloop %d iterations, forkexec %d)\n\n", repeat, fs_n, exec_n
	printf "%-62s %14s %10s %7s\n", "measure", "value", "target", "result"
	printf "%-62s %14.0f %10s %7s\n", "(a) events/s kernel -> filtered log, backlog drain, lost=" v["drain_lost"], drain_rate, ">=500000", verdict(drain_rate >= 500000 && v["drain_lost"] == 0)
	printf "%-62s %14.0f %10s %7s\n", "    events/s sustained while fsloop runs in scope, lost=" v["fsloop_inside_lost"], sustained, "(info)", "-"
	printf "%-62s %14.0f %10s %7s\n", "(b) exclusion filter alone, default lists, events/s (1 core)", filt, ">=2000000", verdict(filt >= 2000000)
	printf "%-62s %14.3f %10s %7s\n", "(c) fsloop outside the scope, slowdown x", ratio("fsloop","outside"), "<=1.03", verdict(ratio("fsloop","outside") <= 1.03)
	printf "%-62s %14.3f %10s %7s\n", "(c) fork/exec loop outside the scope, slowdown x", ratio("forkexec","outside"), "<=1.03", verdict(ratio("forkexec","outside") <= 1.03)
	printf "%-62s %14.3f %10s %7s\n", "    getppid loop outside the scope, slowdown x", ratio("getppid","outside"), "(info)", "-"
	printf "%-62s %14.3f %10s %7s\n", "(d) fsloop inside the scope, slowdown x", ratio("fsloop","inside"), "<=1.5", verdict(ratio("fsloop","inside") <= 1.5)
	printf "%-62s %14.3f %10s %7s\n", "    fork/exec loop inside the scope, slowdown x", ratio("forkexec","inside"), "(info)", "-"
	printf "%-62s %14.3f %10s %7s\n", "    getppid loop inside the scope, slowdown x", ratio("getppid","inside"), "(info)", "-"
	printf "\nraw: fsloop none/outside/inside %.3f/%.3f/%.3f s; forkexec %.3f/%.3f/%.3f s; getppid %.3f/%.3f/%.3f s\n",
		v["fsloop_none_ns"]/1e9, v["fsloop_outside_ns"]/1e9, v["fsloop_inside_ns"]/1e9,
		v["forkexec_none_ns"]/1e9, v["forkexec_outside_ns"]/1e9, v["forkexec_inside_ns"]/1e9,
		v["getppid_none_ns"]/1e9, v["getppid_outside_ns"]/1e9, v["getppid_inside_ns"]/1e9
	printf "backlog drain: %d records in %.3f s\n", v["drain_records"], v["drain_ns"]/1e9
}' "$out"
