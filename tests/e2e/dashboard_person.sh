#!/bin/sh
# A step that needs the person's hands (no-nrst: only a manual NRST short
# attaches): the dashboard shows the instruction (pin 7 of the LQFP64) in
# a dialog above everything, Enter says "done", and the attach succeeds
# on the manual-reset rung; Esc gives up instead.
set -u
. "$(dirname "$0")/dashboard_lib.inc"

start 80 24 env LC_ALL=C "$bin" --sim no-nrst,time-scale=0.2
wait_for "Your hands are needed"
screen | grep -qF "pin 7" || fail "the instruction does not name NRST's pin"
wait_row 24 "Enter done"
# Keys that mean nothing here do nothing (no quit behind the dialog).
tm send-keys -t "$sess" x
tm send-keys -t "$sess" Enter
wait_gone "Your hands are needed"
wait_for "SWD manual-reset"
wait_for "Firmware: corrupt"

# r probes again: the same question; Esc gives up, nothing attaches.
tm send-keys -t "$sess" r
wait_for "Your hands are needed"
tm send-keys -t "$sess" Escape
wait_gone "Your hands are needed"
wait_row 24 "q quit"
tm send-keys -t "$sess" q
status=$(wait_exit 10)
[ "$status" != 0 ] || fail "status 0 for a bricked VESC"
assert_tty_restored
echo "dashboard person: ok"
