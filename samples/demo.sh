#!/bin/sh
# make demo: runs capture-client in standalone mode on the bundled dropper
# sample with the default exclusion lists, prints its report, cleans up.
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/capture-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

echo "== capture-client demo: a bundled dropper sample in a fresh sandbox guest"
echo "   sample:  $build/samples/dropper (drops a payload, plants persistence, beacons)"
echo "   lists:   $top/etc/exclusion"
echo "   guest:   overlay of / with its own /home/capture, reverted after the run"
echo "   archive: $work/<guest>.zip (modified and deleted files, manifest)"
echo
"$top/$build/capture-client" --sandbox --collect "$work" -x "$top/etc/exclusion" \
	-- "$top/$build/samples/dropper" /home/capture
rc=$?
for zip in "$work"/*.zip; do
	[ -f "$zip" ] || continue
	echo
	echo "== collected: $zip"
	bsdtar -tvf "$zip" 2>/dev/null || unzip -l "$zip" 2>/dev/null || ls -l "$zip"
done
echo
case $rc in
0) echo "demo: verdict benign (exit 0) - the sample was NOT detected"; exit 1 ;;
1) echo "demo: verdict malicious (exit 1) - detected, as expected" ;;
2) echo "demo: verdict inconclusive (exit 2) - events were lost"; exit 1 ;;
*) echo "demo: capture-client failed (exit $rc)"; exit 1 ;;
esac
