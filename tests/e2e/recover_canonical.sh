#!/bin/sh
# recover on the canonical SWD path (issue 5 "Tests"): a blank chip, a
# corrupt application, and an application that locks SWD out (only
# connect-under-reset attaches). Each run must: back up the flash as it was
# (0600, manifest, byte-equal; a blank chip has nothing to back up or erase), leave exactly firmware + bootloader +
# first-boot crcinfo in flash, journal backup/erase/writes/verify/end, and
# exit 0 with the VESC answering.
set -eu
. "$(dirname "$0")/lib.sh"
t_setup
expected_recovered "$TD/expected.bin"

for sc in blank corrupt-app swd-lockout; do
	rm -rf "$XDG_STATE_HOME"
	st=$TD/$sc.state
	chip_init "$sc" "$st"
	vr --sim "$sc,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
	expect_rc 0 "$sc: recover"
	grep -q "^Recovered" "$TD/out" || fail "$sc: no 'Recovered' line on stdout"
	flash_is "$st" "$TD/expected.bin" "$sc"
	if [ "$sc" = blank ]; then
		# nothing to lose and nothing to erase: writes go straight on
		no_backup
		[ "$(journal_count '"step":"mass-erase"')" = 0 ] || fail "blank: a blank chip was erased"
	else
		backup_is "$st.before"
		journal_has '"event":"backup"' "$sc: the backup event"
		journal_has '"step":"mass-erase".*"result":"started"' "$sc: erase started (before it ran)"
		journal_has '"step":"mass-erase".*"result":"ok"' "$sc: erase done"
	fi
	journal_has '"step":"write-bootloader".*"result":"ok"' "$sc: bootloader written"
	journal_has '"step":"write-firmware".*"result":"ok"' "$sc: firmware written"
	journal_has '"step":"verify".*"result":"ok"' "$sc: verify"
	journal_has '"step":"wait-vesc".*"result":"ok"' "$sc: the VESC answered"
	journal_ended
	if [ "$sc" = swd-lockout ]; then
		grep -q "attach under-reset: ok" "$TD/err" || fail "swd-lockout: not attached under reset"
		grep -q "attach normal: failed" "$TD/err" || fail "swd-lockout: the normal attach did not fail first"
	fi
	# backup before erase, in the journal's order
	[ "$sc" = blank ] && { echo "ok: $sc"; continue; }
	j=$(journal_file)
	bl=$(grep -n '"event":"backup"' "$j" | head -n 1 | cut -d: -f1)
	el=$(grep -n '"step":"mass-erase"' "$j" | head -n 1 | cut -d: -f1)
	[ "$bl" -lt "$el" ] || fail "$sc: the erase was journaled before the backup"
	echo "ok: $sc"
done
echo "recover canonical: ok"
