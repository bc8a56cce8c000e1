#!/bin/sh
# demo.sh - `make demo`: the main job on the local test corpus.
#
#   scripts/demo.sh [BUILD]          (BUILD = build directory, default build)
#
# 1. makes a fresh work directory BUILD/demo/ and writes its config.xml from
#    corpus/demo/config.xml.in (two sandbox guests, network "services");
# 2. starts capture-corpusd in the services namespace capture-services, where
#    it serves corpus/sites/ on 10.201.255.1:80 (the address the guests' DNS
#    stub gives for every name), and a second one serving corpus/listener/
#    on port 4444 (the connect-back scenario's call home), and waits for
#    their pid files;
# 3. runs capture-server on corpus/demo/urls.txt in BUILD/demo/: it starts
#    the guests' capture-clients, prints its progress and a final table, and
#    exits when every URL is done (terminate="true");
# 4. compares the verdicts of BUILD/demo/log/{safe,malicious,error}.log, and
#    the events of the JSON reports, with corpus/expected.tsv; prints
#    "URL  client  expected  got  events  OK/MISMATCH";
# 5. stops both capture-corpusd.  Exit status 0 if every URL got its expected
#    verdict and events, 1 on a mismatch, 2 on a setup error.
#
# It builds nothing (make has built BUILD/).  Needs root and jq.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
work=$build/demo
netns=capture-services
urls=$top/corpus/demo/urls.txt
expected=$top/corpus/expected.tsv
server_timeout=600 # seconds; the demo takes about one minute
. "$top/scripts/corpus-lib.sh"

for f in "$build/capture-server" "$build/capture-client" "$build/capture-corpusd"; do
	[ -x "$f" ] || { echo "demo: $f missing (run make)" >&2; exit 2; }
done
command -v jq >/dev/null || { echo "demo: jq is needed (apt-get install jq)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (kernel sensor, namespaces)" >&2; exit 2; }

# ---- 1. work directory and configuration ----
# the server appends to its logs: a fresh directory holds this run's only
rm -rf "$work"
mkdir -p "$work"
chmod 755 "$work"
sed "s|@TOP@|$top|g" "$top/corpus/demo/config.xml.in" >"$work/config.xml"

# ---- 2. the corpus server ----
corpusd_pid=
listener_pid=
stop_corpusd() {
	for _p in $corpusd_pid $listener_pid; do
		kill "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
	corpusd_pid=
	listener_pid=
}
trap stop_corpusd EXIT
trap 'exit 2' INT TERM

echo "== capture demo: $(grep -c '^[a-z]*://' "$urls") URLs of the local corpus, 2 sandbox guests"
echo "   corpus server: capture-corpusd in namespace $netns, serving corpus/sites/ (and"
echo "                  corpus/listener/ on port 4444)"
echo "   work dir:      $work (config.xml, log/, requests.log)"
echo
if ! corpus_start_servers "$build/capture-corpusd" "$top" "$netns" "$work"; then
	echo "demo: the corpus servers did not start" >&2
	exit 2
fi

# ---- 3. the server ----
(cd "$work" && timeout "$server_timeout" "$build/capture-server" -c config.xml -f "$urls")
rc=$?
echo
if [ $rc -ne 0 ]; then
	echo "demo: capture-server exited with status $rc (see $work/log/)"
	[ $rc -eq 124 ] && echo "demo: it did not finish within $server_timeout s"
fi

# ---- 4. verdicts and events against corpus/expected.tsv ----

# The verdict of URL with CLIENT in the result logs ("" if none): a
# malicious line wins, else the last line (logs are CSV, every field quoted).
verdict_of() {
	cat "$work/log/safe.log" "$work/log/malicious.log" "$work/log/error.log" 2>/dev/null |
		awk -F'","' -v url="$1" -v client="$2" '
			$4 == url && $5 == client { v = $2; if (v == "malicious") m = 1 }
			END { print m ? "malicious" : v }'
}

# The events of the JSON report of URL with CLIENT, as JSON Lines, into FILE.
events_of() {
	: >"$3"
	for r in "$work"/log/*.json; do
		[ -f "$r" ] || continue
		jq -c --arg u "$1" --arg c "$2" \
			'select(.url == $u and .client == $c) | .events[]?' "$r" >>"$3" 2>/dev/null
	done
}

fail=0
tab=$(printf '\t')
printf '%-44s %-9s %-20s %-20s %-7s %s\n' URL client expected got events result
while IFS="$tab" read -r url client want events; do
	case $url in '' | '#'*) continue ;; esac
	# only the lines of expected.tsv that urls.txt visits
	awk -F'::' -v u="$url" -v c="$client" '$1 == u && $2 == c { f = 1 } END { exit !f }' \
		"$urls" || continue
	got=$(verdict_of "$url" "$client")
	: >"$work/missing.txt"
	events_of "$url" "$client" "$work/events.jsonl"
	set -- $(corpus_check_events "$work/events.jsonl" "${events:--}" "$work/missing.txt")
	result=OK
	corpus_verdict_ok "$got" "$want" || result=MISMATCH
	[ "$1" = "$2" ] || result=MISMATCH
	[ $result = OK ] || fail=1
	printf '%-44s %-9s %-20s %-20s %-7s %s\n' "$url" "$client" "$want" "${got:-none}" "$1/$2" \
		"$result"
	[ $result = OK ] || cat "$work/missing.txt"
done <"$expected"
rm -f "$work/missing.txt" "$work/events.jsonl"
stop_corpusd

echo
echo "results: $work/log/ (safe.log, malicious.log, error.log, per-URL .log/.json/.zip)"
echo "requests the guests made: $work/requests.log (call-home port: $work/listener.log)"
if [ $fail -ne 0 ] || [ $rc -ne 0 ]; then
	echo "demo: MISMATCH with corpus/expected.tsv"
	exit 1
fi
echo "demo: every URL got its expected verdict"
exit 0
