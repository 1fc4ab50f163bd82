#!/bin/sh
# No dashboard without a terminal to draw on: with stdout not a terminal,
# or TERM=dumb (no cursor addressing), the dashboard prints the line-mode
# `probe` report, says how to get the dashboard, and exits with probe's
# status.
set -u
. "$(dirname "$0")/dashboard_lib.inc"

# stdout to a file, stdin from /dev/null.
"$bin" --sim healthy </dev/null >"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" = 0 ] || fail "healthy bench: status $status, expected 0"
grep -q "SIMULATED BENCH" "$tmp/out" || fail "no probe report: $(cat "$tmp/out")"
grep -q "Firmware: present" "$tmp/out" || fail "no verdict in the report"
grep -qi "for the dashboard" "$tmp/err" || fail "no word on how to get the dashboard"
grep -q "$(printf '\033')" "$tmp/out" && fail "escape sequences in the report"

# The status is probe's, whatever it is.
"$bin" --sim corrupt-app probe </dev/null >"$tmp/probe.out" 2>/dev/null
want=$?
"$bin" --sim corrupt-app </dev/null >"$tmp/out" 2>/dev/null
got=$?
[ "$got" = "$want" ] || fail "corrupt-app: status $got, probe gives $want"
[ "$want" != 0 ] || fail "corrupt-app probe should not succeed"
cmp -s "$tmp/out" "$tmp/probe.out" || {
	# Timings in the report may differ; the lines without numbers must not.
	sed 's/[0-9]* ms//' "$tmp/out" >"$tmp/a"
	sed 's/[0-9]* ms//' "$tmp/probe.out" >"$tmp/b"
	cmp -s "$tmp/a" "$tmp/b" || fail "the fallback report differs from probe's"
}

# --json goes through too: one object on stdout, the hint on stderr.
"$bin" --sim healthy --json </dev/null >"$tmp/out" 2>"$tmp/err"
head -c 1 "$tmp/out" | grep -q '{' || fail "--json fallback does not start with an object"

# TERM=dumb on a real terminal (tmux): the report, not curses garbage.
start 80 24 env TERM=dumb "$bin" --sim healthy
status=$(wait_exit 20)
[ "$status" = 0 ] || fail "TERM=dumb: status $status, expected 0"
wait_for "SIMULATED BENCH"
wait_for "cannot address the cursor"
screen | grep -qF "+- Plan" && fail "TERM=dumb drew the dashboard"
assert_tty_restored
echo "dashboard fallback: ok"
