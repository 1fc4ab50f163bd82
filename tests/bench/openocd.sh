#!/bin/sh
# The canonical recovery done by Debian's OpenOCD 0.12 (interface/stlink.cfg,
# target/stm32f4x.cfg) through the libusb facade, on the same simulated chip
# as bench_flash: read everything (backup), mass erase, write the bootloader
# and the firmware, verify both. Prints modeled seconds and USB transfers.
# Figures, not a test.
set -u
: "${VR_FACADE:?}" "${BUILD:?}"
command -v openocd >/dev/null || { echo "openocd not installed: skipped"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BUILD/tests/tool_synth" firmware 6.05 "$tmp/fw.bin"
"$BUILD/tests/tool_synth" bootloader generic "$tmp/bl.bin"
export VR_BENCH_SIM="corrupt-app,time-scale=0.05" VR_BENCH_STATE="$tmp/chip"
seconds() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1e6 }'; }
rm -f "$tmp/stats"
VR_BENCH_STATS="$tmp/stats" LD_PRELOAD="$VR_FACADE" timeout 300 openocd -d0 \
	-f interface/stlink.cfg -f target/stm32f4x.cfg \
	-c "gdb_port disabled; tcl_port disabled; telnet_port disabled" \
	-c "init; reset halt" \
	-c "dump_image $tmp/backup.bin 0x08000000 0x100000" \
	-c "stm32f2x mass_erase 0" \
	-c "flash write_image $tmp/bl.bin 0x080E0000; verify_image $tmp/bl.bin 0x080E0000" \
	-c "flash write_image $tmp/fw.bin 0x08000000; verify_image $tmp/fw.bin 0x08000000" \
	-c "shutdown" >"$tmp/out" 2>&1
rc=$?
us=$(awk '$1 == "modeled_us" { s += $2 } END { print s + 0 }' "$tmp/stats" 2>/dev/null)
xf=$(awk '$1 == "usb_transfers" { s += $2 } END { print s + 0 }' "$tmp/stats" 2>/dev/null)
echo "OpenOCD 0.12 (hla) through the libusb facade, ST-LINK/V2 model, chip: corrupt-app"
printf '  %-34s %8s s modeled %7d USB transfers%s\n' "canonical recovery, OpenOCD" "$(seconds "$us")" "$xf" \
	"$([ $rc = 0 ] || echo "  (exit $rc; see below)")"
[ $rc = 0 ] || tail -n 5 "$tmp/out"
