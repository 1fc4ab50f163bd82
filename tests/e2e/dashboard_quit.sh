#!/bin/sh
# Leaving the dashboard while a step runs: "quit when this step is done"
# waits for the erase to finish and then leaves; Ctrl-C (SIGINT) mid-erase
# stops at the next safe point: the erase completes, the exit status is 10
# (interrupted) and the terminal is restored; SIGTERM while idle leaves at
# once with status 10; a crash still restores the terminal.
set -u
. "$(dirname "$0")/dashboard_lib.inc"
synth_images

# How many mass erases the journal records as finished.
erases_done() {
	cat "$XDG_STATE_HOME"/vesc-rescue/journal-*.jsonl 2>/dev/null |
		grep -c '"step":"mass-erase".*"result":"ok"'
}

run_to_erase() {
	start 80 24 env LC_ALL=C "$bin" --sim corrupt-app,time-scale=1 \
		--bootloader "$tmp/bl.bin" --firmware "$tmp/fw.bin"
	wait_for "Firmware: corrupt"
	wait_row 24 "Enter step"
	tm send-keys -t "$sess" a
	wait_for "Erase the whole flash?"
	tm send-keys -t "$sess" y
	wait_for "mass erase"
}

# 1. q, then y: quit when this step is done.
run_to_erase
tm send-keys -t "$sess" q
wait_for "Not now: mass erase is running"
tm send-keys -t "$sess" y
wait_for "quits after this step"
[ ! -f "$tmp/status" ] || fail "left before the erase was done"
status=$(wait_exit 30)
[ "$status" != 0 ] || fail "status 0 although the recovery did not finish"
assert_tty_restored
[ "$(erases_done)" = 1 ] || fail "the journal does not record the finished erase"

# 2. Ctrl-C mid-erase: the erase finishes, status 10.
run_to_erase
tm send-keys -t "$sess" C-c
wait_for "signal received: stopping at the next safe point"
status=$(wait_exit 30)
[ "$status" = 10 ] || fail "exit status $status after SIGINT, expected 10"
[ "$(erases_done)" = 2 ] || fail "the erase in hand was not finished after SIGINT"
assert_tty_restored
screen | grep -qF "stopped by signal 2 at a safe point" || fail "no word about the signal after leaving"

# 3. SIGTERM while idle: leaves at once.
start 80 24 env LC_ALL=C "$bin" --sim healthy
wait_for "Firmware: present"
wait_row 24 "q quit"
kill -TERM "$(cat "$tmp/pid")"
status=$(wait_exit 10)
[ "$status" = 10 ] || fail "exit status $status after SIGTERM, expected 10"
assert_tty_restored
# 4. A crash (SIGSEGV from outside, as a bug would raise it) still gives
# the terminal back.
start 80 24 env LC_ALL=C "$bin" --sim healthy
wait_for "Firmware: present"
kill -SEGV "$(cat "$tmp/pid")"
status=$(wait_exit 10)
[ "$status" = 139 ] || fail "exit status $status after SIGSEGV, expected 139 (the signal, not hidden)"
assert_tty_restored
echo "dashboard quit: ok"
