#!/bin/sh
# corpus-check.sh - runs every scenario of corpus/expected.tsv through the
# standalone capture-client (--sandbox --network services), one fresh guest
# per visit, and checks the verdict and the required events.  It needs no
# capture-server: it is the corpus' own test, the reference for client
# drivers (the argvs below are those of src/client/apps.c), and the way the
# exclusion lists of etc/exclusion/ are checked per browser.
#
#   scripts/corpus-check.sh [-b BUILD] [-n NETNS] [-c CLIENT] [-r RUNS] [-x DIR] [-S] [-k]
#                           [URL-SUBSTRING]
#
#   -b BUILD   build directory with capture-client and capture-corpusd (build)
#   -n NETNS   services namespace to use (capture-corpus-check; created, and
#              deleted at the end unless it existed before)
#   -c CLIENT  run only the lines of this client (curl, curl-sh, docview,
#              linkopen, chromium, firefox)
#   -r RUNS    visit every line RUNS times (1); each visit must pass
#   -x DIR     exclusion lists (default: capture-client's, etc/exclusion)
#   -S         print the rules that decided nothing in any visit (dead rules)
#   -k         keep the work directory (events, client output, request logs)
#   URL-SUBSTRING  run only the lines whose URL contains it
#
# Prints one row per visit (URL, client, expected, got, events found/required,
# OK or MISMATCH), then a confusion table per client (expected verdict by
# verdict got, counted in visits).  Exits 1 on any mismatch, 2 on a setup
# error.  Needs root (kernel sensor, namespaces) and jq.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build=build
netns=capture-corpus-check
only_client=
runs=1
excl=
stats=0
keep=0
while getopts b:n:c:r:x:Sk opt; do
	case $opt in
	b) build=$OPTARG ;;
	n) netns=$OPTARG ;;
	c) only_client=$OPTARG ;;
	r) runs=$OPTARG ;;
	x) excl=$OPTARG ;;
	S) stats=1 ;;
	k) keep=1 ;;
	*) sed -n '2,26s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
filter=${1:-}
case $runs in '' | *[!0-9]* | 0) echo "corpus-check: -r needs a count" >&2; exit 2 ;; esac
case $build in /*) ;; *) build=$top/$build ;; esac
client=$build/capture-client
corpusd=$build/capture-corpusd
expected=$top/corpus/expected.tsv
helpers=$top/corpus/helpers
user_js=$top/corpus/firefox/user.js
guest_uid=4242 # capture-client's default guest user
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
listener_pid=
profile=
cleanup() {
	[ -n "$corpusd_pid" ] && kill "$corpusd_pid" 2>/dev/null && wait "$corpusd_pid" 2>/dev/null
	[ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null && wait "$listener_pid" 2>/dev/null
	[ -n "$profile" ] && rm -rf "$profile"
	[ "$existed" -eq 0 ] && ip netns del "$netns" 2>/dev/null
	if [ "$keep" -eq 1 ]; then echo "corpus-check: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 2' INT TERM

# ---- the corpus server, and the call-home listener, in the services namespace ----
corpus_start_servers "$corpusd" "$top" "$netns" "$work" || exit 2

# ---- the drivers (src/client/apps.c, docs/applications.md) ----
hosts_rules='--host-resolver-rules=MAP update.googleapis.com ~NOTFOUND, MAP clients2.google.com ~NOTFOUND, MAP accounts.google.com ~NOTFOUND, MAP sb-ssl.google.com ~NOTFOUND'

# A fresh Firefox profile for a visit: /tmp/capture-profile-HASH with the
# corpus' user.js, made on the host and owned by the guest user.  Guests see
# the host's /tmp through their overlay, so the guest finds it ready (its
# writes go to the guest's upper layer; the host's copy stays as it is) and
# nothing in the guest has to make it (which would be reported).  HASH is of
# this run and the URL, so that concurrent runs do not share a profile.
firefox_profile() {
	profile=/tmp/capture-profile-$(printf '%s %s' "$$" "$1" | md5sum | cut -c1-16)
	rm -rf "$profile"
	mkdir -m 700 "$profile" && cp "$user_js" "$profile/user.js" &&
		chown -R "$guest_uid:$guest_uid" "$profile"
}

# Runs one visit: run_visit OUT.jsonl ERRFILE CLIENT URL; prints the client's verdict.
run_visit() {
	out=$1 errf=$2 prog=$3 url=$4
	hash=$(printf %s "$url" | md5sum | cut -c1-16)
	set -- "$client" --sandbox --network services --services "$netns" --json -l "$out" \
		--rule-stats
	[ -n "$excl" ] && set -- "$@" -x "$excl"
	case $prog in
	curl)
		set -- "$@" -t 30 -- /usr/bin/curl -g -sS -L --max-time 10 \
			-o "/tmp/capture-download-$hash" -- "$url" ;;
	curl-sh)
		set -- "$@" -t 5 -- /bin/sh -c '/usr/bin/curl -gfsSL -- "$1" | /bin/sh' sh "$url" ;;
	docview)
		set -- "$@" -t 5 -- /bin/sh -c '/usr/bin/curl -gfsSL --connect-timeout 30 --max-time 60 -o "$2" -- "$1" && exec "$3" "$2"' \
			sh "$url" "/tmp/capture-download-$hash.capdoc" "$helpers/docview" ;;
	linkopen)
		set -- "$@" -t 5 -- "$helpers/linkopen" "$url" ;;
	chromium)
		set -- "$@" -t 10 -- /usr/lib/chromium/chromium --headless=new --no-sandbox \
			--disable-gpu --no-first-run --disable-background-networking \
			--disable-component-update --disable-sync --disable-dev-shm-usage \
			--disable-extensions --disable-default-apps \
			--disable-client-side-phishing-detection --disable-domain-reliability \
			--no-pings --metrics-recording-only --disable-breakpad "$hosts_rules" \
			"--user-data-dir=/tmp/capture-profile-$hash" -- "$url" ;;
	firefox)
		firefox_profile "$url" || { echo error:PROFILE; return; }
		set -- "$@" -t 12 -- /usr/lib/firefox-esr/firefox-esr --headless --no-remote \
			--profile "$profile" "$url" ;;
	*) echo error:UNKNOWN_CLIENT; return ;;
	esac
	# the program's stdout and stderr go to pipes: a file there would be
	# written by the program, and reported
	"$@" 2>&1 >/dev/null </dev/null | cat >"$errf"
	[ -n "$profile" ] && rm -rf "$profile"
	profile=
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

# One visit of a line: prints its row, appends "client expected got" to
# $work/outcomes; returns 1 on a mismatch.
check_visit() {
	url=$1 prog=$2 want=$3 events=$4 n=$5
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
	printf '%s\t%s\t%s\n' "$prog" "${want%%:*}" "${got%%:*}" >>"$work/outcomes"
	printf '%-44s %-9s %-20s %-20s %-7s %s\n' "$url" "$prog" "$want" "$got" "$ev" "$result"
	[ $result = OK ] && return 0
	cat "$work/missing.txt"
	[ "$got" = malicious ] && [ "$want" = benign ] &&
		jq -r '"    reported: \(.type) \(.action) \(.process) \(.object1) \(.object2 // "")"' \
			"$out" | head -n 20
	return 1
}

# The confusion table of $work/outcomes: per client, expected verdict
# (rows) by verdict got (columns), in visits.
confusion() {
	echo
	echo "confusion table (visits; rows: expected verdict, columns: verdict got)"
	printf '%-9s %-10s %7s %10s %6s %13s\n' client expected benign malicious error inconclusive
	sort "$work/outcomes" | awk -F'\t' '
		function row() {
			if (key != "")
				printf "%-9s %-10s %7d %10d %6d %13d\n", c, w, n["benign"], n["malicious"],
					n["error"], n["inconclusive"]
			split("", n)
		}
		$1 SUBSEP $2 != key { row(); key = $1 SUBSEP $2; c = $1; w = $2 }
		{ n[$3]++ }
		END { row() }'
}

# Rules that decided nothing in any visit, from the --rule-stats lines of
# every visit (kernel-filtered rules work in the kernel and are left out).
dead_rules() {
	echo
	echo "rules with no hit in any visit (a '-' rule is meant to stay so):"
	cat "$work"/visit-*.err 2>/dev/null | grep -E '^[^ ]+:[0-9]+  hits=[0-9]+  ' |
		grep -v '(kernel-filtered)$' | sed -E 's/ \(dead\)$//' |
		awk '{
			rule = $1; split($2, h, "="); total[rule] += h[2]
			if (!(rule in text)) { order[++n] = rule; t = $0; sub(/^[^ ]+  hits=[0-9]+  /, "", t); text[rule] = t }
		}
		END { for (i = 1; i <= n; i++) if (total[order[i]] == 0) print "  " order[i] "  " text[order[i]] }'
}

fail=0
n=0
: >"$work/outcomes"
printf '%-44s %-9s %-20s %-20s %-7s %s\n' URL client expected got events result
tab=$(printf '\t')
while IFS="$tab" read -r url prog want events; do
	case $url in '' | '#'*) continue ;; esac
	case $url in *"$filter"*) ;; *) continue ;; esac
	[ -n "$only_client" ] && [ "$prog" != "$only_client" ] && continue
	run=0
	while [ $run -lt "$runs" ]; do
		run=$((run + 1))
		n=$((n + 1))
		check_visit "$url" "$prog" "$want" "$events" "$n" </dev/null || fail=1
	done
done <"$expected"

if [ "$n" -eq 0 ]; then
	echo "corpus-check: no line of $expected matches '$filter' ${only_client:+(client $only_client)}"
	exit 2
fi
confusion
[ $stats -eq 1 ] && dead_rules
echo
if [ $fail -eq 0 ]; then
	echo "corpus-check: all $n visits as expected"
else
	echo "corpus-check: MISMATCH (work directory kept: $work)"
	keep=1
fi
exit $fail
