#!/bin/sh
# The fault scenarios make stlink-tools fail the way real hardware makes
# them fail: the tools' own messages, exit statuses and (for st-flash
# 1.7.0, which never checks a read's status) the wrong bytes.
# shellcheck source=tests/conformance/lib.inc
. "$(dirname "$0")/lib.inc"
need st-info
need st-flash
need cmp

random_file "$conf_tmp/small.bin" 4096

# SWD turned off by the running firmware: only connect-under-reset attaches.
run lock_plain swd-lockout lock st-flash read "$conf_tmp/lock.bin" 0x08000000 4096
expect_fail lock_plain
expect_out lock_plain "Can not connect to target"
run lock_info swd-lockout lock st-info --probe
expect_out lock_info 'chipid: +0x0000'
run lock_cur swd-lockout lock st-flash --connect-under-reset read "$conf_tmp/lock.bin" 0x08000000 4096
expect_rc lock_cur 0
run lock_cur_info swd-lockout lock st-info --probe --connect-under-reset
expect_out lock_cur_info 'chipid: +0x0413'

# The same with NRST not wired: connect-under-reset cannot help either.
run nonrst no-nrst nonrst st-info --probe --connect-under-reset
expect_out nonrst 'chipid: +0x0000'

# Unpowered or miswired: the probe answers, the target never does.
for sc in unpowered miswired; do
	run "$sc" "$sc" "$sc" st-flash read "$conf_tmp/$sc.bin" 0x08000000 4096
	expect_fail "$sc"
	expect_out "$sc" "Can not connect to target"
done

# RDP level 1: flash reads fault on the bus. st-flash 1.7.0 does not ask
# for the read status, so it "succeeds" with bytes that are not the flash
# (a synthetic VESC firmware starts with SP 0x2001FF00).
run rdp_read rdp1 rdp st-flash read "$conf_tmp/rdp.bin" 0x08000000 4096
if [ "$(od -An -tx1 -N4 "$conf_tmp/rdp.bin" | tr -d ' ')" = "00ff0120" ]; then
	fail "rdp_read: read protected flash came back readable"
fi
run rdp_write rdp1 rdp st-flash write "$conf_tmp/small.bin" 0x080E0000
expect_fail rdp_write
expect_out rdp_write "write protected"

# WRP on sector 11: erasing or writing it fails, sector 0 still works.
run wrp_write wrp wrp st-flash write "$conf_tmp/small.bin" 0x080E0000
expect_fail wrp_write
expect_out wrp_write "Flash memory is write protected"
run wrp_app wrp wrp st-flash write "$conf_tmp/small.bin" 0x08000000
expect_rc wrp_app 0
expect_out wrp_app 'Flash written and verified'
run wrp_mass wrp wrp st-flash erase
expect_fail wrp_mass

# Host side: another program holds the probe; no udev rule.
run busy probe-busy busy st-flash read "$conf_tmp/busy.bin" 0x08000000 4096
expect_fail busy
expect_out busy "unable to claim"
run access probe-access access st-info --probe
expect_out access "access error"
expect_out access "Found 0 stlink programmers"

# USB faults in the middle of a read.
run gone healthy,usb-gone-at=40 gone st-flash read "$conf_tmp/gone.bin" 0x08000000 65536
expect_out gone "LIBUSB_ERROR_NO_DEVICE"
run tmo healthy,usb-timeout-at=40 tmo st-flash read "$conf_tmp/tmo.bin" 0x08000000 65536
expect_out tmo "LIBUSB_ERROR_TIMEOUT"

finish
