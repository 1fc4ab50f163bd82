#!/bin/sh
# Checks every Debian package the build and the tests need (dpkg -s) and
# installs the missing ones when run as root; otherwise prints the command.
set -eu
PKGS="build-essential pkg-config libncurses-dev libusb-1.0-0-dev libserialport-dev
libcmocka-dev libunicorn-dev stlink-tools openocd tmux mandoc clang llvm
libclang-rt-14-dev valgrind binutils-arm-none-eabi python3"
missing=""
for p in $PKGS; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "${1:-}" != install ]; then
	echo "missing packages:$missing"
	exit 1
fi
if [ "$(id -u)" = 0 ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
else
	echo "vesc-rescue needs these Debian packages:$missing"
	echo "run: sudo apt-get install$missing"
	exit 1
fi
