#!/bin/sh
# make bench: every benchmark program prints its figures; nothing here
# passes or fails on speed. Modeled seconds come from the bench's timing
# model (shared/reference/bench-timing.md); wall times are this machine's.
set -u
BUILD=${BUILD:-build}
export VR_BIN="$PWD/$BUILD/vesc-rescue"
export VR_FACADE="$PWD/$BUILD/libbench-usb.so"
echo "vesc-rescue benchmarks ($(uname -m), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ))"
for b in "$BUILD"/tests/bench_*; do
	[ -x "$b" ] || continue
	echo
	echo "== ${b##*/}"
	"$b" || echo "(${b##*/} exited $?)"
done
for s in tests/bench/*.sh; do
	[ -f "$s" ] || continue
	echo
	echo "== $s"
	sh "$s" || echo "($s exited $?)"
done
