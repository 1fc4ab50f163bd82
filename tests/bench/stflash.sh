#!/bin/sh
# The canonical recovery (shared/reference/bench-timing.md) done by Debian's
# st-flash 1.7.0 through the libusb facade, on the same simulated chip as
# bench_flash: read everything (backup), mass erase, bootloader at
# 0x080E0000, firmware at 0x08000000 (st-flash verifies each write by
# reading it back). Prints modeled seconds and USB transfers per command
# and in total. Figures, not a test.
set -u
: "${VR_FACADE:?}" "${BUILD:?}"
command -v st-flash >/dev/null || { echo "st-flash not installed: skipped"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BUILD/tests/tool_synth" firmware 6.05 "$tmp/fw.bin"
"$BUILD/tests/tool_synth" bootloader generic "$tmp/bl.bin"
# Modeled time in the facade follows the host's own waiting, scaled: with
# 0.05 a 16 s erase passes in 0.8 s of real time.
export VR_BENCH_SIM="corrupt-app,time-scale=0.05" VR_BENCH_STATE="$tmp/chip"

seconds() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1e6 }'; }
total_us=0 total_xfers=0
run() {
	what=$1; shift
	rm -f "$tmp/stats"
	VR_BENCH_STATS="$tmp/stats" LD_PRELOAD="$VR_FACADE" timeout 120 st-flash "$@" >"$tmp/out" 2>&1
	rc=$?
	us=$(awk '$1 == "modeled_us" { s += $2 } END { print s + 0 }' "$tmp/stats" 2>/dev/null)
	xf=$(awk '$1 == "usb_transfers" { s += $2 } END { print s + 0 }' "$tmp/stats" 2>/dev/null)
	total_us=$((total_us + us)); total_xfers=$((total_xfers + xf))
	printf '  %-34s %8s s modeled %7d USB transfers%s\n' "$what" "$(seconds "$us")" "$xf" \
		"$([ $rc = 0 ] || echo "  (exit $rc)")"
}
echo "st-flash 1.7.0 through the libusb facade, ST-LINK/V2 model, chip: corrupt-app"
run "backup (read 1 MiB)" read "$tmp/backup.bin" 0x08000000 0x100000
run "mass erase" erase
run "bootloader 5280 B at 0x080E0000" write "$tmp/bl.bin" 0x080E0000
run "firmware 524280 B at 0x08000000" write "$tmp/fw.bin" 0x08000000
printf '  %-34s %8s s modeled %7d USB transfers\n' "canonical recovery, st-flash" \
	"$(seconds "$total_us")" "$total_xfers"
echo "(compare: bench_flash's 'canonical recovery' row above is vesc-rescue on the same job)"
