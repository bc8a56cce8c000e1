#!/bin/sh
# corpus-check.sh - runs every scenario of corpus/expected.tsv through the
# standalone capture-client (--sandbox --network services), one fresh guest
# per line, and checks the verdict and the required events.  It needs no
# capture-server: it is the corpus' own test, and the reference for client
# drivers (the argvs below are those of src/client/apps.c).
#
#   scripts/corpus-check.sh [-b BUILD] [-n NETNS] [-k] [URL-SUBSTRING]
#
#   -b BUILD   build directory with capture-client and capture-corpusd (build)
#   -n NETNS   services namespace to use (capture-corpus-check; created, and
#              deleted at the end unless it existed before)
#   -k         keep the work directory (events, client output, request log)
#   URL-SUBSTRING  run only the lines whose URL contains it
#
# Prints one row per line: URL, client, expected, got, events found/required,
# OK or MISMATCH; exits 1 on any mismatch, 2 on a setup error.  Needs root
# (kernel sensor, namespaces) and jq.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build=build
netns=capture-corpus-check
keep=0
while getopts b:n:k opt; do
	case $opt in
	b) build=$OPTARG ;;
	n) netns=$OPTARG ;;
	k) keep=1 ;;
	*) sed -n '2,20s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
filter=${1:-}
case $build in /*) ;; *) build=$top/$build ;; esac
client=$build/capture-client
corpusd=$build/capture-corpusd
expected=$top/corpus/expected.tsv
docview=$top/corpus/helpers/docview
. "$top/scripts/corpus-lib.sh"

for f in "$client" "$corpusd"; do
	[ -x "$f" ] || { echo "corpus-check: $f missing (run make)" >&2; exit 2; }
done
command -v jq >/dev/null || { echo "corpus-check: jq is needed (apt-get install jq)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "corpus-check: run as root (kernel sensor, namespaces)" >&2; exit 2; }

work=$(mktemp -d /tmp/capture-corpus-check.XXXXXX)
chmod 755 "$work"
existed=0
[ -e "/run/netns/$netns" ] && existed=1
corpusd_pid=
cleanup() {
	[ -n "$corpusd_pid" ] && kill "$corpusd_pid" 2>/dev/null && wait "$corpusd_pid" 2>/dev/null
	[ "$existed" -eq 0 ] && ip netns del "$netns" 2>/dev/null
	if [ "$keep" -eq 1 ]; then echo "corpus-check: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# ---- the corpus server in the services namespace ----
"$corpusd" --root "$top/corpus/sites" --netns "$netns" --pidfile "$work/corpusd.pid" \
	--log "$work/requests.log" 2>"$work/corpusd.err" &
corpusd_pid=$!
if ! corpus_wait_pidfile "$work/corpusd.pid" "$corpusd_pid"; then
	echo "corpus-check: capture-corpusd did not start:" >&2
	cat "$work/corpusd.err" >&2
	corpusd_pid=
	exit 2
fi

# ---- the drivers (src/client/apps.c, docs/applications.md) ----
hosts_rules='--host-resolver-rules=MAP update.googleapis.com ~NOTFOUND, MAP clients2.google.com ~NOTFOUND, MAP accounts.google.com ~NOTFOUND, MAP sb-ssl.google.com ~NOTFOUND'

# Runs one visit: run_visit OUT.jsonl ERRFILE CLIENT URL; prints the client's exit code.
run_visit() {
	out=$1 errf=$2 prog=$3 url=$4
	hash=$(printf %s "$url" | md5sum | cut -c1-16)
	set -- "$client" --sandbox --network services --services "$netns" --json -l "$out"
	case $prog in
	curl)
		set -- "$@" -t 30 -- /usr/bin/curl -g -sS -L --max-time 10 \
			-o "/tmp/capture-download-$hash" -- "$url" ;;
	curl-sh)
		set -- "$@" -t 5 -- /bin/sh -c '/usr/bin/curl -gfsSL -- "$1" | /bin/sh' sh "$url" ;;
	docview)
		set -- "$@" -t 5 -- /bin/sh -c '/usr/bin/curl -gfsSL --connect-timeout 30 --max-time 60 -o "$2" -- "$1" && exec "$3" "$2"' \
			sh "$url" "/tmp/capture-download-$hash.capdoc" "$docview" ;;
	chromium)
		set -- "$@" -t 8 -- /usr/lib/chromium/chromium --headless=new --no-sandbox \
			--disable-gpu --no-first-run --disable-background-networking \
			--disable-component-update --disable-sync --disable-dev-shm-usage \
			--disable-extensions --disable-default-apps \
			--disable-client-side-phishing-detection --disable-domain-reliability \
			--no-pings --metrics-recording-only --disable-breakpad "$hosts_rules" \
			"--user-data-dir=/tmp/capture-profile-$hash" -- "$url" ;;
	*) echo 99; return ;;
	esac
	# the program's stdout and stderr go to pipes: a file there would be
	# written by the program, and reported
	"$@" 2>&1 >/dev/null </dev/null | cat >"$errf"
	# the pipeline's status is cat's: read the client's from its JSON summary
	# (the last line of its own; the program's lines are mixed in)
	summary "$errf" | jq -r .verdict
}

# The summary capture-client --json prints last on stderr.
summary() {
	grep '^{"summary":' "$1" | tail -n 1
}

# curl exit codes of a failed fetch (apps.c curl_network_code)
network_code() {
	case " 5 6 7 16 18 22 28 35 47 52 55 56 58 60 77 92 95 97 " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

fail=0
n=0
printf '%-44s %-9s %-20s %-20s %-7s %s\n' URL client expected got events result
tab=$(printf '\t')
while IFS="$tab" read -r url prog want events; do
	case $url in '' | '#'*) continue ;; esac
	case $url in *"$filter"*) ;; *) continue ;; esac
	n=$((n + 1))
	out=$work/visit-$n.jsonl
	errf=$work/visit-$n.err
	: >"$work/missing.txt"
	verdict=$(run_visit "$out" "$errf" "$prog" "$url")
	status=$(summary "$errf" | jq -r .exit_status)
	got=${verdict:-error:CLIENT}
	if [ "$got" = benign ] && [ "$prog" = curl ] && network_code "${status:-0}"; then
		got=error:NETWORK_ERROR
	fi
	set -- $(corpus_check_events "$out" "${events:--}" "$work/missing.txt")
	ev="$1/$2"
	result=OK
	corpus_verdict_ok "$got" "$want" || result=MISMATCH
	[ "$1" = "$2" ] || result=MISMATCH
	[ $result = OK ] || fail=1
	printf '%-44s %-9s %-20s %-20s %-7s %s\n' "$url" "$prog" "$want" "$got" "$ev" "$result"
	if [ $result = MISMATCH ]; then
		cat "$work/missing.txt"
		[ "$got" = malicious ] && [ "$want" = benign ] &&
			jq -r '"    reported: \(.type) \(.action) \(.process) \(.object1) \(.object2 // "")"' \
				"$out" | head -n 20
	fi
done <"$expected"

echo
if [ "$n" -eq 0 ]; then
	echo "corpus-check: no line of $expected matches '$filter'"
	exit 2
fi
if [ $fail -eq 0 ]; then
	echo "corpus-check: all $n scenarios as expected"
else
	echo "corpus-check: MISMATCH (work directory kept: $work)"
	keep=1
fi
exit $fail
