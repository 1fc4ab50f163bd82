#!/bin/sh
# st-flash (stlink-tools) erases, writes and reads the simulated F405. Its
# flash loader really runs on the model's emulated Cortex-M4; the chip is
# kept in a state file between the runs, as one board between tool runs.
# shellcheck source=tests/conformance/lib.inc
. "$(dirname "$0")/lib.inc"
need st-flash
need cmp

sc=healthy,$FAST
random_file "$conf_tmp/bl.bin" 20000
random_file "$conf_tmp/app.bin" 70000
blank_file "$conf_tmp/blank.bin" 16384

run erase "$sc" chip st-flash erase
expect_rc erase 0
expect_out erase 'Mass erasing'

run read_blank "$sc" chip st-flash read "$conf_tmp/got-blank.bin" 0x08000000 16384
expect_rc read_blank 0
same_file "mass erase leaves 0xFF" "$conf_tmp/blank.bin" "$conf_tmp/got-blank.bin"

run write_bl "$sc" chip st-flash write "$conf_tmp/bl.bin" 0x080E0000
expect_rc write_bl 0
expect_out write_bl 'Flash written and verified'
# The words were programmed by st-flash's loader running on the emulated core.
expect_stat write_bl cpu_instructions 5000
expect_stat write_bl words_programmed 5000

run read_bl "$sc" chip st-flash read "$conf_tmp/got-bl.bin" 0x080E0000 20000
expect_rc read_bl 0
same_file "sector 11 read back" "$conf_tmp/bl.bin" "$conf_tmp/got-bl.bin"

run write_app "$sc" chip st-flash write "$conf_tmp/app.bin" 0x08000000
expect_rc write_app 0
expect_out write_app 'Flash written and verified'

run read_app "$sc" chip st-flash read "$conf_tmp/got-app.bin" 0x08000000 70000
expect_rc read_app 0
same_file "application read back" "$conf_tmp/app.bin" "$conf_tmp/got-app.bin"

# Writing the application erased only the sectors it covers.
run reread_bl "$sc" chip st-flash read "$conf_tmp/got-bl2.bin" 0x080E0000 20000
same_file "sector 11 kept after the app write" "$conf_tmp/bl.bin" "$conf_tmp/got-bl2.bin"

# The same through a V3 (other endpoints, APIv3 version, frequency commands).
VR_BENCH_PROBE=v3,genuine
export VR_BENCH_PROBE
run v3_write "$sc" chip3 st-flash --connect-under-reset write "$conf_tmp/app.bin" 0x08000000
expect_rc v3_write 0
run v3_read "$sc" chip3 st-flash read "$conf_tmp/got-v3.bin" 0x08000000 70000
same_file "V3 write read back" "$conf_tmp/app.bin" "$conf_tmp/got-v3.bin"
unset VR_BENCH_PROBE

finish
