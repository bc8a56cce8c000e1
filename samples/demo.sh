#!/bin/sh
# make demo: runs capture-client in standalone mode on the bundled dropper
# sample with the default exclusion lists, prints its report, cleans up.
set -u
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/capture-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

echo "== capture-client standalone demo"
echo "   sample:  $build/samples/dropper (drops a payload, plants persistence, beacons)"
echo "   lists:   $top/etc/exclusion"
echo "   sandbox: none yet - the sample only writes inside $work"
echo
"$top/$build/capture-client" -x "$top/etc/exclusion" -- "$top/$build/samples/dropper" "$work"
rc=$?
echo
case $rc in
0) echo "demo: verdict benign (exit 0) - the sample was NOT detected"; exit 1 ;;
1) echo "demo: verdict malicious (exit 1) - detected, as expected" ;;
2) echo "demo: verdict inconclusive (exit 2) - events were lost"; exit 1 ;;
*) echo "demo: capture-client failed (exit $rc)"; exit 1 ;;
esac
