#!/bin/sh
# make run's promise (CONTRACTS §2): live, with nothing attached, the
# dashboard shows the real verdict and offers s; it switches to the
# simulated bench only when asked, and the header then says SIM.
set -u
. "$(dirname "$0")/dashboard_lib.inc"

# Only meaningful where nothing is attached: the bench machine running
# the tests may have a real VESC or ST-Link.
"$bin" probe </dev/null >"$tmp/live" 2>&1
if grep -qE 'stlink|vesc-cdc' "$tmp/live"; then
	echo "skip: real hardware is attached"
	exit 77
fi

start 80 24 env LC_ALL=C "$bin"
wait_for "LIVE"
wait_for "No ST-Link"
wait_row 24 "s sim"
screen | grep -qF "SIM" && fail "switched to the simulated bench by itself"
tm send-keys -t "$sess" s
wait_for "Rehearse on the simulated bench"
screen | grep -qF "> corrupt-app" || fail "corrupt-app is not preselected"
tm send-keys -t "$sess" Down
wait_for "> blank"
tm send-keys -t "$sess" Up
wait_for "> corrupt-app"
tm send-keys -t "$sess" Enter
wait_for "SIM corrupt-app"
wait_for "Firmware: corrupt"
screen | grep -qF "LIVE" && fail "the header still says LIVE"
tm send-keys -t "$sess" q
wait_exit 10 >/dev/null
assert_tty_restored
echo "dashboard rehearse: ok"
