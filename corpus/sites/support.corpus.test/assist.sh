#!/bin/sh
# assist.sh - the corpus' bind-shell backdoor scenario (corpus/README.md).
#
# Run by the vulnerable client `curl URL | sh` inside a sandbox guest, as the
# guest user: a "remote assistance" installer that drops a Perl backdoor,
# ~/.local/share/assist/assistd, and starts it.  The backdoor listens on TCP
# port 31337 of every address of the guest, as a bind shell does; it never
# runs what it receives: it answers each connection with a fake prompt and
# closes it.  Nobody connects to it (the guest's address is reachable only
# from the services namespace), and it runs until the guest is killed.
# Never run it outside a sandbox guest.
set -u
dir="$HOME/.local/share/assist"
mkdir -p "$dir"
cat > "$dir/assistd" <<'BACKDOOR'
#!/usr/bin/perl
# assistd - corpus backdoor: listens on 0.0.0.0:31337, answers a fake prompt.
use strict;
use IO::Socket::INET;
my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => 31337, Proto => "tcp",
                              Listen => 5, ReuseAddr => 1) or exit 1;
while (my $c = $s->accept) { print $c "assist\$ "; close $c; }
BACKDOOR
chmod 755 "$dir/assistd"
nohup "$dir/assistd" >/dev/null 2>&1 &
exit 0
