#!/bin/sh
# The terminal: a 60x20 window shows "terminal too small" (and the
# dashboard once it is enlarged); colours come and go with NO_COLOR and
# --no-color (monochrome keeps bold/reverse); UTF-8 box drawing in a UTF-8
# locale, ASCII otherwise.
set -u
. "$(dirname "$0")/dashboard_lib.inc"

# SGR colour codes: 30-37/40-47 (and 38;/48; extended), not 39/49 resets.
esc=$(printf '\033')
has_color() { tm capture-pane -p -e -t "$sess" | grep -qE "$esc\\[([0-9;]*;)?(3[0-7]|4[0-7]|38;|48;)[0-9;]*m"; }

# Too small, then big enough, then too small again.
start 60 20 env LC_ALL=C "$bin" --sim healthy
wait_for "terminal too small (need 80x24)"
screen | grep -qF "this one is 60x20" || fail "the size is not shown"
tm resize-window -t "$sess" -x 80 -y 24
wait_for "+- Plan"
wait_for "Firmware: present"
tm resize-window -t "$sess" -x 79 -y 30
wait_for "terminal too small (need 80x24)"
tm send-keys -t "$sess" q
status=$(wait_exit 10)
[ "$status" = 0 ] || fail "exit status $status (healthy bench), expected 0"
assert_tty_restored

# Colour by default (tmux's TERM has colours)...
start 80 24 env LC_ALL=C "$bin" --sim healthy
wait_for "Firmware: present"
has_color || fail "no colour by default"

# ... and an idle dashboard sleeps: at most 5 clock ticks of CPU in 2 s.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$(cat "$tmp/pid")/stat"; }
if [ -r "/proc/$(cat "$tmp/pid")/stat" ]; then
	sleep 0.5
	before=$(cpu_ticks)
	sleep 2
	after=$(cpu_ticks)
	[ $((after - before)) -le 5 ] || fail "idle dashboard used $((after - before)) ticks in 2 s"
fi
tm send-keys -t "$sess" q
wait_exit 10 >/dev/null

# ... none with NO_COLOR, but reverse video still marks the header...
start 80 24 env LC_ALL=C NO_COLOR=1 "$bin" --sim healthy
wait_for "Firmware: present"
has_color && fail "colour despite NO_COLOR"
tm capture-pane -p -e -t "$sess" | grep -qE "$esc\\[([0-9;]*;)?7(;[0-9;]*)?m" || fail "monochrome lost reverse video"
tm send-keys -t "$sess" q
wait_exit 10 >/dev/null

# ... and none with --no-color.
start 80 24 env LC_ALL=C "$bin" --no-color --sim healthy
wait_for "Firmware: present"
has_color && fail "colour despite --no-color"
screen | grep -qF "+- Link" || fail "ASCII boxes expected in the C locale"
tm send-keys -t "$sess" q
wait_exit 10 >/dev/null

# UTF-8 box drawing when the locale is UTF-8.
utf8=$(locale -a 2>/dev/null | grep -iE '^(C|en_US)\.utf-?8$' | head -n 1)
if [ -n "$utf8" ]; then
	start 80 24 env LC_ALL="$utf8" "$bin" --sim healthy
	wait_for "Firmware: present"
	screen | grep -qF "┌─ Link" || fail "no UTF-8 box drawing in $utf8"
	tm send-keys -t "$sess" q
	wait_exit 10 >/dev/null
fi
echo "dashboard terminal: ok"
