#!/bin/sh
# Issue 4: backup -> erase -> restore -> identical flash, through the real
# subcommands on the in-process bench (the chip kept in a state file
# between runs). Also: a backup is never overwritten, and erase/restore
# without --yes and without a terminal are refused (exit 7) untouched.
set -u
bin=${VR_BIN:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export XDG_STATE_HOME="$tmp/state"
sim="healthy,state=$tmp/chip"
fail() { echo "FAIL: $*"; exit 1; }
run() { timeout 120 "$bin" --sim "$sim" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"; }

run backup "$tmp/before.bin" || fail "backup: exit $? $(cat "$tmp/err")"
[ "$(stat -c %s "$tmp/before.bin")" = 1048576 ] || fail "backup is not 1 MiB"
[ "$(stat -c %a "$tmp/before.bin")" = 600 ] || fail "backup mode is not 0600"
grep -q '"dev_id": "0x413"' "$tmp/before.bin.json" || fail "manifest lacks dev_id"
grep -q '"crc32"' "$tmp/before.bin.json" || fail "manifest lacks the sector CRCs"
# the firmware and the bootloader are really in it (not a blank image)
[ "$(od -An -tx1 -N4 -j 4 "$tmp/before.bin" | tr -d ' ')" != ffffffff ] || fail "backup has no vector table"

run backup "$tmp/before.bin"
[ $? = 2 ] || fail "an existing backup file must be refused with exit 2"
grep -q "never overwritten" "$tmp/err" || fail "the refusal does not say why"

run erase --mass
[ $? = 7 ] || fail "erase without --yes and without a terminal must exit 7"
run backup "$tmp/still.bin" || fail "backup after the refusal"
cmp -s "$tmp/before.bin" "$tmp/still.bin" || fail "a refused erase changed the flash"

run --yes erase --mass || fail "erase --mass --yes: exit $? $(cat "$tmp/err")"
run backup "$tmp/blank.bin" || fail "backup of the blank chip"
[ "$(tr -d '\377' <"$tmp/blank.bin" | wc -c)" = 0 ] || fail "flash not blank after the mass erase"
ls "$XDG_STATE_HOME"/vesc-rescue/backup-*.bin >/dev/null 2>&1 || fail "erase did not save a backup first"

run --yes restore "$tmp/before.bin" || fail "restore: exit $? $(cat "$tmp/err")"
run backup "$tmp/after.bin" || fail "backup after the restore"
cmp "$tmp/before.bin" "$tmp/after.bin" || fail "restored flash differs from the backup"
echo "backup round trip: ok"
