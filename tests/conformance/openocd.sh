#!/bin/sh
# OpenOCD 0.12 (interface/stlink.cfg + target/stm32f4x.cfg, the hla driver)
# against the simulated probe: flash info, mass erase, write_image (its
# stm32f2x write algorithm runs on the model's emulated core), verify_image
# (a CRC algorithm on the core), options_read; then the fault scenarios.
# shellcheck source=tests/conformance/lib.inc
. "$(dirname "$0")/lib.inc"
need openocd
need st-flash
need cmp

random_file "$conf_tmp/app.bin" 70000
random_file "$conf_tmp/small.bin" 4096

# ocd NAME SCENARIO STATE PRE-INIT-COMMANDS COMMANDS...: one openocd run
# with a Tcl script, each command's output echoed with its name. The
# interface is interface/stlink.cfg (hla), or $OCD_INTERFACE.
ocd() {
	ocd_name=$1 ocd_sc=$2 ocd_state=$3 ocd_pre=$4
	shift 4
	{
		echo "gdb_port disabled"
		echo "tcl_port disabled"
		echo "telnet_port disabled"
		[ -n "$ocd_pre" ] && echo "$ocd_pre"
		echo "init"
		for c in "$@"; do
			echo "echo \"@@ $c: [capture {$c}]\""
			echo "echo \"@@ done: $c\""
		done
		echo "shutdown"
	} >"$conf_tmp/$ocd_name.tcl"
	run "$ocd_name" "$ocd_sc" "$ocd_state" openocd -f "${OCD_INTERFACE:-interface/stlink.cfg}" \
		-f target/stm32f4x.cfg -f "$conf_tmp/$ocd_name.tcl"
}

sc=healthy,$FAST
ocd main "$sc" chip "" "reset halt" "flash info 0" "stm32f2x mass_erase 0" \
	"flash write_image $conf_tmp/app.bin 0x08000000" \
	"verify_image $conf_tmp/app.bin 0x08000000" "stm32f2x options_read 0"
expect_rc main 0
expect_out main 'STLINK V2J37S7 \(API v2\) VID:PID 0483:3748'
expect_out main 'Cortex-M4 r0p1 processor detected'
expect_out main 'device id = 0x10070413'
expect_out main 'flash size = 1024 KiB'
expect_out main '@@ done: stm32f2x mass_erase 0'
expect_out main 'wrote 70000 bytes'
expect_out main 'verified 70000 bytes'
expect_out main 'user_options 0xEC'
# The stm32f2x block-write algorithm ran on the emulated core (no fallback
# to single memory accesses); verify ran its CRC algorithm there too.
expect_no_out main 'falling back to single memory accesses'
expect_stat main cpu_instructions 35000
expect_stat main bytes_programmed 70000
# What OpenOCD wrote, st-flash reads back.
run main_read "$sc" chip st-flash read "$conf_tmp/got.bin" 0x08000000 70000
same_file "openocd write, st-flash read" "$conf_tmp/app.bin" "$conf_tmp/got.bin"

# A V3 (APIv3 version, SET/GET_COM_FREQ, endpoint 0x01).
VR_BENCH_PROBE=v3,genuine
export VR_BENCH_PROBE
ocd v3 "$sc" chip "" "reset halt" "verify_image $conf_tmp/app.bin 0x08000000"
expect_rc v3 0
expect_out v3 'STLINK V3J7M3B5S1 \(API v3\) VID:PID 0483:374E'
expect_out v3 'Target voltage: 3\.[23]'
expect_out v3 'verified 70000 bytes'
unset VR_BENCH_PROBE

# The dapdirect driver (interface/stlink-dap.cfg): DAP register commands,
# RW_MISC batches and AP-numbered memory commands instead of the hla set.
OCD_INTERFACE=interface/stlink-dap.cfg
ocd dap "$sc" chipd "" "reset halt" "stm32f2x mass_erase 0" \
	"flash write_image $conf_tmp/app.bin 0x08000000" "verify_image $conf_tmp/app.bin 0x08000000"
expect_rc dap 0
expect_out dap 'SWD DPIDR 0x2ba01477'
expect_out dap 'wrote 70000 bytes'
expect_out dap 'verified 70000 bytes'
expect_stat dap bytes_programmed 70000
unset OCD_INTERFACE

# No target.
ocd unpowered unpowered unpowered "" "reset halt"
expect_fail unpowered
expect_out unpowered 'init mode failed \(unable to connect to the target\)'

# SWD locked by the firmware: plain init fails, connect_assert_srst works.
ocd lock_plain swd-lockout lock "" "reset halt"
expect_fail lock_plain
expect_out lock_plain 'init mode failed'
ocd lock_srst swd-lockout lock "reset_config srst_only srst_nogate connect_assert_srst" \
	"reset halt" "flash info 0"
expect_rc lock_srst 0
expect_out lock_srst 'device id = 0x10070413'

# RDP1: the security bit shows, reading flash fails.
ocd rdp rdp1 rdp "" "reset halt" "stm32f2x options_read 0" "dump_image $conf_tmp/rdp.bin 0x08000000 4096"
expect_fail rdp
expect_out rdp 'Device Security Bit Set'
expect_no_out rdp '@@ done: dump_image'

# WRP on sector 11: the erase before the write is refused.
ocd wrp wrp wrp "" "reset halt" "flash write_image erase $conf_tmp/small.bin 0x080E0000"
expect_fail wrp
expect_out wrp 'failed erasing sectors 11 to 11'

# Busy probe: OpenOCD cannot claim it.
ocd busy probe-busy busy "" "reset halt"
expect_fail busy

finish
