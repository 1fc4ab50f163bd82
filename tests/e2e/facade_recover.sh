#!/bin/sh
# Our own binary's real libusb path (CONTRACTS.md §1), end to end: no --sim;
# libusb-1.0 is the bench's facade (LD_PRELOAD), so usb_libusb.c, the
# ST-Link driver and the STM32F4 layer run exactly as on hardware, against
# the simulated ST-Link and chip. The facade simulates no VESC on USB, so
# after a correct rewrite the last step (the VESC answering) cannot happen:
# the run must say so, with the flash written and verified.
set -u
bin=${VR_BIN:?}
facade=${VR_FACADE:?}
build=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/err" ] && tail -n 15 "$tmp/err"; exit 1; }
export XDG_STATE_HOME="$tmp/state" VR_BENCH_STATE="$tmp/chip"
export VR_BENCH_SIM="corrupt-app,time-scale=0.05"
live() { LD_PRELOAD="$facade" timeout 120 "$bin" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"; }
"$build/tests/tool_synth" firmware 6.05 "$tmp/fw.bin" || fail "tool_synth"
"$build/tests/tool_synth" bootloader generic "$tmp/bl.bin" || fail "tool_synth"

live --json probe
rc=$?
[ $rc = 4 ] || fail "probe: exit $rc, expected 4 (firmware corrupt: needs SWD work)"
grep -q '"kind": "stlink"' "$tmp/out" || fail "the facade's ST-Link is not in usb[]"
grep -q '"attach": "normal"' "$tmp/out" || fail "no normal attach through libusb"
grep -q '"firmware": "corrupt"' "$tmp/out" || fail "verdict is not 'firmware corrupt'"
grep -q '"mode": "live"' "$tmp/out" || fail "not the live path"

live --yes recover --bootloader "$tmp/bl.bin" --firmware "$tmp/fw.bin"
rc=$?
grep -q "did not answer on USB" "$tmp/err" || fail "the run does not say the VESC stayed silent"
grep -q "verify: 524280 bytes at 0x08000000 match" "$tmp/err" || fail "firmware not verified"
[ $rc != 0 ] || fail "exit 0 although no VESC answered"
[ $rc != 10 ] || fail "exit 10 (interrupted) for a VESC that stays silent after a complete write"
ls "$XDG_STATE_HOME"/vesc-rescue/backup-*.bin >/dev/null 2>&1 || fail "no backup before the erase"

# The flash, read through the same real path: firmware and bootloader as
# given (the facade's chip never boots, so crcinfo stays 0xFF).
live backup "$tmp/after.bin" || fail "backup after the recovery: exit $?"
head -c 1048576 /dev/zero | tr '\0' '\377' >"$tmp/expected.bin"
dd if="$tmp/fw.bin" of="$tmp/expected.bin" conv=notrunc 2>/dev/null
dd if="$tmp/bl.bin" of="$tmp/expected.bin" bs=1 seek=$((0xE0000)) conv=notrunc 2>/dev/null
cmp "$tmp/expected.bin" "$tmp/after.bin" || fail "flash after the recovery differs from the images"
echo "facade recover (real libusb path): ok, recover exit $rc"
