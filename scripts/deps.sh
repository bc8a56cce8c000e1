#!/bin/sh
# Installs every Debian package Capture needs to build, test and run.
# Idempotent: `apt-get update` runs only when a package is actually missing,
# so a second run costs one dpkg query per package.
set -eu

PKGS="
make gcc clang llvm pkg-config clang-format clang-tidy cppcheck
libbpf-dev bpftool libelf-dev zlib1g-dev
libpcre2-dev libjansson-dev libuv1-dev liburing-dev
libmnl-dev libnftables-dev libpcap-dev libarchive-dev libssl-dev libexpat1-dev
libcmocka-dev libclang-rt-14-dev libmicrohttpd-dev
iproute2 chromium firefox-esr jq libreoffice-writer-nogui
"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi

echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y -q --no-install-recommends $missing
