#!/bin/sh
# The ST-Link unplugged mid-erase and mid-write (issue 8; usb-gone-at=N,
# N searched so the loss falls inside the step). Each time: exit 10 with a
# message saying the probe disappeared, the backup of the original flash
# written before the erase, the journal showing the step unfinished; a
# second run on the same chip finishes with exactly the expected flash.
set -eu
. "$(dirname "$0")/lib.sh"
t_setup
expected_recovered "$TD/expected.bin"
st=$TD/chip.state

# gone_inside STEP PATTERN N...: first N whose run ends with the journal's
# last step event for STEP matching PATTERN
gone_inside() {
	step=$1 pat=$2; shift 2
	for n in "$@"; do
		rm -rf "$XDG_STATE_HOME"
		chip_init corrupt-app "$st"
		vr --sim "corrupt-app,usb-gone-at=$n,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
		[ "$RC" = 10 ] || continue
		last=$(grep "\"step\":\"$step\"" "$(journal_file)" | grep '"event":"step"' | tail -n 1)
		if echo "$last" | grep -Eq "$pat"; then
			echo "$n"
			return 0
		fi
	done
	return 1
}

second_run_finishes() {
	expect_rc 10 "$1: run 1"
	grep -q "disappeared" "$TD/out" || fail "$1: run 1 does not say the probe disappeared"
	backup_is "$st.before"
	[ "$(journal_count '"event":"end"')" = 0 ] || fail "$1: an interrupted run must not look ended"
	vr --sim "corrupt-app,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
	expect_rc 0 "$1: run 2"
	flash_is "$st" "$TD/expected.bin" "$1: after run 2"
	first=$(ls "$SD"/backup-*.bin | head -n 1)
	cmp -s "$first" "$st.before" || fail "$1: the original backup was lost"
	[ "$(journal_count '"event":"start"')" = 2 ] || fail "$1: the journal does not hold both runs"
	journal_has '"step":"verify".*"result":"ok"' "$1: verify"
	journal_ended
}

# mid-erase: the erase started (journaled) but never reported done
n=$(gone_inside mass-erase '"result":"(started|interrupted)"' $(seq 1000 25 1700)) ||
	fail "no usb-gone-at value between 1000 and 1700 fell inside the mass erase"
rm -rf "$XDG_STATE_HOME"; chip_init corrupt-app "$st"
vr --sim "corrupt-app,usb-gone-at=$n,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
echo "mid-erase: gone at transfer $n"
grep '"step":"mass-erase"' "$(journal_file)" | tail -n 1 | grep -Eq '"result":"(started|interrupted)"' ||
	fail "mid-erase: the rerun with usb-gone-at=$n did not stop inside the erase"
second_run_finishes "mid-erase"
echo "ok: probe gone mid-erase"

# mid-write: a firmware block journaled, the step interrupted
n=$(gone_inside write-firmware '"result":"interrupted".*"offset":[1-9]' 2000 1800 2200 2400 2600) ||
	fail "no usb-gone-at value fell inside the firmware write"
rm -rf "$XDG_STATE_HOME"; chip_init corrupt-app "$st"
vr --sim "corrupt-app,usb-gone-at=$n,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
echo "mid-write: gone at transfer $n"
second_run_finishes "mid-write"
echo "ok: probe gone mid-write"
echo "faults probe gone: ok"
