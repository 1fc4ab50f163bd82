#!/bin/sh
# The command line's promises: help, version, usage errors with status 2,
# udev rules covering every ST-Link PID, install/uninstall with DESTDIR.
set -eu
bin=${VR_BIN:?}
fail() { echo "FAIL: $*"; exit 1; }
status() { set +e; "$@" >/dev/null 2>&1; s=$?; set -e; echo $s; }

"$bin" --help | grep -q "usage: vesc-rescue" || fail "--help"
"$bin" --version | grep -Eq '^vesc-rescue [0-9]+\.[0-9]+' || fail "--version"
[ "$(status "$bin" frobnicate)" = 2 ] || fail "unknown command must exit 2"
[ "$(status "$bin" --frobnicate)" = 2 ] || fail "unknown option must exit 2"
[ "$(status "$bin" write x.bin)" = 2 ] || fail "write without --at must exit 2"
[ "$(status "$bin" erase)" = 2 ] || fail "erase without --mass/--sectors must exit 2"
[ "$(status "$bin" erase --mass --sectors 1)" = 2 ] || fail "erase with both must exit 2"
[ "$(status "$bin" --baud fast probe)" = 2 ] || fail "bad --baud must exit 2"
[ "$(status "$bin" --timeout 0 probe)" = 2 ] || fail "bad --timeout must exit 2"
[ "$(status "$bin" recover --keep-config --restore-config)" = 2 ] || fail "exclusive options"
"$bin" frobnicate 2>&1 | grep -q "unknown command 'frobnicate'" || fail "message names the command"

rules=$("$bin" --udev-rules)
for pid in 3744 3748 374b 374a 3752 374d 374e 374f 3753 3754 3755 3757 5740 df11; do
	echo "$rules" | grep -q "ATTR{idProduct}==\"$pid\"" || fail "udev rules lack $pid"
done
echo "$rules" | grep -q 'ID_MM_DEVICE_IGNORE' || fail "ModemManager not told to ignore the VESC"
echo "$rules" | grep -q 'GROUP="plugdev"' || fail "no plugdev group (uaccess alone misses SSH)"

dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
make -s install DESTDIR="$dest" PREFIX=/usr BUILD="${BUILD:-build}" >/dev/null
[ -x "$dest/usr/bin/vesc-rescue" ] || fail "install: binary"
[ -f "$dest/usr/share/man/man1/vesc-rescue.1" ] || fail "install: man page"
[ -f "$dest/usr/share/bash-completion/completions/vesc-rescue" ] || fail "install: completion"
make -s uninstall DESTDIR="$dest" PREFIX=/usr BUILD="${BUILD:-build}" >/dev/null
[ ! -e "$dest/usr/bin/vesc-rescue" ] || fail "uninstall left the binary"
echo "cli basics: ok"
