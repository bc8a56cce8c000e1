# corpus-lib.sh - shell functions shared by scripts/demo.sh and
# scripts/corpus-check.sh (sourced, not run).  Needs jq.

# Waits up to 10 s for PIDFILE to be written by PID: capture-corpusd writes it
# once it listens.  0, or 1 if PID died or the time ran out.
corpus_wait_pidfile() {
	_i=0
	while [ ! -s "$1" ]; do
		_i=$((_i + 1))
		if [ $_i -gt 100 ] || ! kill -0 "$2" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
	done
	return 0
}

# Starts the corpus servers in the services namespace NETNS (created if
# needed): capture-corpusd serving TOP/corpus/sites/ on 10.201.255.1:80, and
# a second one serving TOP/corpus/listener/ on 10.201.255.1:4444, the
# call-home port of the connect-back scenario (corpus/README.md).  Pid files
# and request logs go to WORK (requests.log, listener.log).  Sets
# corpusd_pid and listener_pid.  0, or 1 (with a message) if one did not start.
corpus_start_servers() {
	_bin=$1 _top=$2 _ns=$3 _work=$4
	"$_bin" --root "$_top/corpus/sites" --netns "$_ns" --pidfile "$_work/corpusd.pid" \
		--log "$_work/requests.log" 2>"$_work/corpusd.err" &
	corpusd_pid=$!
	if ! corpus_wait_pidfile "$_work/corpusd.pid" "$corpusd_pid"; then
		echo "capture-corpusd did not start:" >&2
		cat "$_work/corpusd.err" >&2
		corpusd_pid=
		return 1
	fi
	"$_bin" --root "$_top/corpus/listener" --netns "$_ns" --port 4444 \
		--pidfile "$_work/listener.pid" --log "$_work/listener.log" 2>"$_work/listener.err" &
	listener_pid=$!
	if ! corpus_wait_pidfile "$_work/listener.pid" "$listener_pid"; then
		echo "capture-corpusd (listener on port 4444) did not start:" >&2
		cat "$_work/listener.err" >&2
		listener_pid=
		return 1
	fi
	return 0
}

# Checks the required events SPEC (";"-separated "type action object-regex",
# or "-") against the JSON Lines events in FILE.  Prints "found total"; each
# missing event is appended to MISSING_FILE as "    missing: ...".
# A spec matches an event of the same type and action whose object1 or
# object2 the regex matches in full (corpus/expected.tsv).
corpus_check_events() {
	_file=$1 _spec=$2 _missing=$3 _found=0 _total=0
	if [ "$_spec" = "-" ] || [ -z "$_spec" ]; then
		echo "0 0"
		return 0
	fi
	_rest=$_spec
	while [ -n "$_rest" ]; do
		_item=${_rest%%;*}
		if [ "$_item" = "$_rest" ]; then _rest=; else _rest=${_rest#*;}; fi
		_type=${_item%% *}
		_r=${_item#* }
		_action=${_r%% *}
		_re=${_r#* }
		_total=$((_total + 1))
		# grep, not jq -e: jq 1.6's -e looks at the last input only
		if jq -c --arg t "$_type" --arg a "$_action" --arg re "^(?:$_re)\$" \
			'select(.type == $t and .action == $a and
			 ((.object1 // "" | tostring | test($re)) or
			  (.object2 // "" | tostring | test($re))))' "$_file" 2>/dev/null |
			grep -q .; then
			_found=$((_found + 1))
		else
			echo "    missing: $_item" >>"$_missing"
		fi
	done
	echo "$_found $_total"
}

# True if the verdict GOT satisfies the expected WANT: equal, or for
# "error:NAME" an error with that major and any minor ("error:NAME-7").
corpus_verdict_ok() {
	case $2 in
	error:*) [ "$1" = "$2" ] || [ "${1%-*}" = "$2" ] ;;
	*) [ "$1" = "$2" ] ;;
	esac
}
