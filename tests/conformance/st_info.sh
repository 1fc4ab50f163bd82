#!/bin/sh
# st-info --probe (stlink-tools) finds the simulated probe and the F405
# behind it, for each kind of ST-Link, plain and under reset.
# shellcheck source=tests/conformance/lib.inc
. "$(dirname "$0")/lib.inc"
need st-info

run probe healthy s1 st-info --probe
expect_rc probe 0
expect_out probe 'Found 1 stlink programmers'
expect_out probe 'version: +V2J37S7'
expect_out probe 'serial: +[0-9A-F]{24}$'
expect_out probe 'chipid: +0x0413'
expect_out probe 'flash: +1048576 '

run under_reset healthy s1 st-info --probe --connect-under-reset
expect_rc under_reset 0
expect_out under_reset 'chipid: +0x0413'

# Old V2 firmware reports its serial as 12 raw bytes; the tool hex-encodes
# them and must end up with the same 24 digits.
serial=$(sed -n 's/^ *serial: *//p' "$conf_tmp/probe.out")
VR_BENCH_PROBE=v2,raw-serial
export VR_BENCH_PROBE
run raw healthy s1 st-info --probe
expect_out raw "serial: +$serial\$"
[ -n "$serial" ] || fail "probe: no serial line"

VR_BENCH_PROBE=v2-1,genuine
export VR_BENCH_PROBE
run v21 healthy s1 st-info --probe
expect_out v21 'version: +V2J40[MS]27'
expect_out v21 'chipid: +0x0413'

VR_BENCH_PROBE=v3,genuine
run v3 healthy s1 st-info --probe
expect_rc v3 0
expect_out v3 'version: +V3J7(M3)?(B5)?S1'
expect_out v3 'chipid: +0x0413'
unset VR_BENCH_PROBE

# A probe in DFU mode: the tool sends DFU_EXIT and carries on.
run dfu probe-dfu s2 st-info --probe
expect_out dfu 'chipid: +0x0413'

# No target: the probe is there, the chip is not.
run unpowered unpowered s3 st-info --probe
expect_out unpowered 'Found 1 stlink programmers'
expect_out unpowered 'chipid: +0x0000'

finish
