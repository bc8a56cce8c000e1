# libreoffice-driver.sh - the shared part of the document clients
# etc/drivers/libreoffice and etc/drivers/libreoffice-vulnerable; sourced by
# them, never run (docs/applications.md, "Document client (LibreOffice)").
#
# lo_driver_main XCU FILE...: replaces the shell with LibreOffice opening
# FILE headless and read-only (--view), in a fresh user profile
# /tmp/capture-libreoffice-<pid> that LibreOffice creates, with the
# settings of XCU (beside the script, in the format of a profile's
# registrymodifications.xcu) as a read-only configuration layer under the
# profile's own.  The script writes nothing and starts no program but
# LibreOffice: a mkdir or cat of a shell script is reported as a process
# start by dash, which no exclusion rule can tell from a dropper's, so the
# shell's builtins do the rest.

# The Debian package's program directory (/usr/bin/soffice is a link to the
# start script there).
LO_PROGRAM_DIR=/usr/lib/libreoffice/program

# lo_driver_fail STATUS MESSAGE: the message on standard error, then exit.
lo_driver_fail() {
	echo "${0##*/}: $2" >&2
	exit "$1"
}

lo_driver_main() {
	lo_xcu=$1
	shift
	[ $# -eq 1 ] || lo_driver_fail 2 "usage: ${0##*/} FILE"
	# An absolute path: a name starting with "-" would be an option of
	# soffice (which has no "--"), and one like "macro:///Lib.Mod.Sub" or
	# "vnd.sun.star.script:..." a URL it would run.
	case $1 in
	/*) lo_doc=$1 ;;
	*) lo_doc=$PWD/$1 ;;
	esac
	if [ ! -f "$lo_doc" ] || [ ! -r "$lo_doc" ]; then
		lo_driver_fail 3 "cannot read $lo_doc"
	fi
	if [ ! -x "$LO_PROGRAM_DIR/oosplash" ]; then
		lo_driver_fail 127 "$LO_PROGRAM_DIR/oosplash missing (install libreoffice-writer-nogui)"
	fi

	# The settings file beside this script, as a file URL: the path is put
	# into the URL as it is, so it must not need %-escapes.
	case $0 in
	*/*) lo_dir=${0%/*} ;;
	*) lo_dir=. ;;
	esac
	case $lo_dir in
	/*) ;;
	*) lo_dir=$PWD/$lo_dir ;;
	esac
	lo_xcu=$lo_dir/$lo_xcu
	case $lo_xcu in
	*[!A-Za-z0-9._/+-]*) lo_driver_fail 3 "$lo_xcu: only A-Z a-z 0-9 . _ / + - may occur in its path" ;;
	esac
	if [ ! -f "$lo_xcu" ] || [ ! -r "$lo_xcu" ]; then
		lo_driver_fail 3 "cannot read $lo_xcu"
	fi

	# LibreOffice's configuration layers (fundamentalrc): the last one is
	# the profile's registrymodifications.xcu ("user:!URL", writable); the
	# settings go right below it as a read-only modification layer
	# ("user:*URL"), so they hold for a fresh profile without a file in it.
	lo_layers=
	while IFS= read -r lo_line; do
		case $lo_line in
		CONFIGURATION_LAYERS=*) lo_layers=${lo_line#CONFIGURATION_LAYERS=} ;;
		esac
	done <"$LO_PROGRAM_DIR/fundamentalrc"
	case $lo_layers in
	*" user:"*) ;;
	*) lo_driver_fail 3 "no CONFIGURATION_LAYERS ending in a user layer in $LO_PROGRAM_DIR/fundamentalrc" ;;
	esac
	lo_layers="${lo_layers% user:*} user:*file://$lo_xcu user:${lo_layers##* user:}"

	# A fresh profile for this document, never one that exists (a planted
	# one); the pid makes the name unique among the visits of one guest.
	lo_profile=/tmp/capture-libreoffice-$$
	if [ -e "$lo_profile" ] || [ -L "$lo_profile" ]; then
		lo_driver_fail 3 "$lo_profile exists: not a fresh profile"
	fi

	# What the soffice start script does before it execs oosplash (it also
	# runs dirname and uname to find its own directory: two more process
	# starts per visit).  oosplash starts soffice.bin, and starts it again
	# when it exits with 81, which it does once on a fresh profile.
	# LibreOffice's temporary files (lu*.tmp) go into the profile.  --view
	# opens the document read-only: no O_RDWR open of it (a Write event)
	# and no .~lock.FILE# beside it.
	SAL_ENABLE_FILE_LOCKING=1
	TMPDIR=$lo_profile
	export SAL_ENABLE_FILE_LOCKING TMPDIR
	exec "$LO_PROGRAM_DIR/oosplash" --headless --norestore --nologo --nodefault --view \
		"-env:UserInstallation=file://$lo_profile" "-env:CONFIGURATION_LAYERS=$lo_layers" \
		"$lo_doc"
}
