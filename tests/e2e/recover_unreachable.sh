#!/bin/sh
# A target that never answers on SWD (issue 5 "Tests": unpowered, wiring
# fault): exit 4 (needs a person) with advice naming what to check, no
# backup, no journal of destructive steps, and the flash untouched.
set -eu
. "$(dirname "$0")/lib.sh"
t_setup

for sc in unpowered miswired; do
	rm -rf "$XDG_STATE_HOME"
	st=$TD/$sc.state
	chip_init "$sc" "$st"
	vr --sim "$sc,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
	expect_rc 4 "$sc"
	case $sc in
	unpowered) grep -q "powered" "$TD/err" || fail "unpowered: the advice does not mention power" ;;
	miswired) grep -q "SWDIO" "$TD/err" && grep -q "GND" "$TD/err" ||
		fail "miswired: the advice does not name SWDIO/GND" ;;
	esac
	grep -q "V)" "$TD/err" || fail "$sc: the probe's voltage reading is not reported"
	flash_is "$st" "$st.before" "$sc: flash untouched"
	no_backup
	ls "$SD"/journal-*.jsonl >/dev/null 2>&1 && fail "$sc: a journal for a chip never seen"
	# the same as JSON, for scripts
	vr --json --sim "$sc,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
	expect_rc 4 "$sc --json"
	grep -q '"exit_status": 4' "$TD/out" || fail "$sc --json: exit_status 4 missing"
	echo "ok: $sc"
done
echo "recover unreachable: ok"
