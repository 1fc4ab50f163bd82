#!/bin/sh
# One end-to-end recovery under valgrind memcheck (CONTRACTS §7, issue 8):
# corrupt-app on the in-process bench, backup + mass erase + bootloader +
# firmware + verify + reset + USB re-probe. VR_NO_LOADER=1 keeps the CPU
# emulator out of the loop (direct flash writes; session.c), which the
# bench's counters confirm (cpu_instructions 0). Clean means: exit 0, no
# memcheck error, no definite leak, and exactly the expected flash.
set -u
BUILD=${BUILD:-build}
BIN=$PWD/$BUILD/vesc-rescue
pass=0 fail=0
finish() {
	echo "valgrind: $pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit $?
}
bad() {
	echo "FAIL: $*"
	[ -f "$TD/vg.log" ] && tail -n 40 "$TD/vg.log"
	fail=$((fail + 1))
	finish
}
if ! command -v valgrind >/dev/null; then
	echo "valgrind is not installed (make deps installs it)"
	fail=1
	finish
fi
# the tools that build and read the chip's flash
make -s --no-print-directory BUILD="$BUILD" "$BUILD/tests/tool_synth" "$BUILD/tests/tool_chip" >/dev/null ||
	bad "building the test tools"
TOOLS=$PWD/$BUILD/tests
TD=$(mktemp -d "${TMPDIR:-/tmp}/vr-valgrind.XXXXXX")
trap 'rm -rf "$TD"' EXIT
"$TOOLS/tool_synth" firmware 6.05 "$TD/fw.bin" >/dev/null || bad "tool_synth"
"$TOOLS/tool_synth" bootloader generic "$TD/bl.bin" >/dev/null || bad "tool_synth"
"$TOOLS/tool_chip" init corrupt-app "$TD/chip.state" || bad "tool_chip init"
"$TOOLS/tool_chip" expect "$TD/expected.bin" "$TD/fw.bin" "$TD/bl.bin" || bad "tool_chip expect"

start=$(date +%s)
XDG_STATE_HOME=$TD/state VR_NO_LOADER=1 VR_BENCH_STATS=$TD/stats \
	timeout 600 valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
	--log-file="$TD/vg.log" \
	"$BIN" --sim "corrupt-app,state=$TD/chip.state" recover \
	--bootloader "$TD/bl.bin" --firmware "$TD/fw.bin" --yes </dev/null >"$TD/out" 2>"$TD/err"
rc=$?
took=$(($(date +%s) - start))
[ "$rc" != 99 ] || bad "memcheck found errors or definite leaks"
[ "$rc" = 0 ] || { cat "$TD/err"; bad "recover under valgrind exited $rc"; }
# valgrind's own notes on ioctls it has no wrapper for (TIOCEXCL/TIOCNXCL
# on the serial ports) are not findings; anything else is
grep -v -e "noted but unhandled ioctl" -e "could cause spurious value errors" \
	-e "README_MISSING_SYSCALL_OR_IOCTL" -e "set address range perms" "$TD/vg.log" | grep -q . && bad "memcheck reported something"
grep -q "^cpu_instructions 0$" "$TD/stats" || bad "the CPU emulator ran ($(grep cpu_instructions "$TD/stats"))"
"$TOOLS/tool_chip" dump "$TD/chip.state" "$TD/flash.bin" || bad "tool_chip dump"
cmp -s "$TD/flash.bin" "$TD/expected.bin" || bad "the flash is not the expected image"
echo "ok   recovery of corrupt-app under memcheck (${took} s, no loader, CPU emulator idle)"
pass=1
finish
