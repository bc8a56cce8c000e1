#!/bin/sh
# diag.sh - stage 2 of the corpus' URL scheme handler scenario, fetched and
# run by the command hidden in the x-capture-diag: URL (corpus/README.md).
# It plants a PATH hijack: ~/.local/bin comes before /usr/bin in the PATH of
# Debian's default ~/.profile, so an "xdg-open" there runs instead of the
# real one whenever the user opens a link.  The wrapper only calls the real
# xdg-open.  Never run it outside a sandbox guest.
set -u
mkdir -p "$HOME/.local/bin"
printf '#!/bin/sh\n# corpus PATH hijack: passes everything to the real xdg-open\nexec /usr/bin/xdg-open "$@"\n' >"$HOME/.local/bin/xdg-open"
chmod 755 "$HOME/.local/bin/xdg-open"
exit 0
