#!/bin/sh
# Probe yanked mid-write, then a second run finishes (issue 5 "Tests",
# issue 8 "probe gone mid-write"). Run 1 loses the ST-Link (usb-gone-at=N,
# N chosen so the loss falls inside the firmware write): exit 10, backup
# already taken, the chip halfway. Run 2 on the same chip and journal:
# resumes the write where the journal says (no new erase, no new backup),
# verifies and ends with the VESC answering; the final flash is exactly the
# expected image and the journal holds both runs.
set -eu
. "$(dirname "$0")/lib.sh"
t_setup
expected_recovered "$TD/expected.bin"
st=$TD/chip.state

found=
for n in 2000 1600 2400 2800 1300 3200; do
	rm -rf "$XDG_STATE_HOME"
	chip_init corrupt-app "$st"
	vr --sim "corrupt-app,usb-gone-at=$n,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
	if [ "$RC" = 10 ] && grep -q '"step":"write-firmware".*"result":"interrupted".*"offset":[1-9]' "$(journal_file)"; then
		found=$n
		break
	fi
done
[ -n "$found" ] || fail "no usb-gone-at value interrupted the firmware write after a block (last exit $RC)"
echo "run 1: probe gone at transfer $found, exit 10"
grep -qi "ST-Link disappeared" "$TD/err" || fail "run 1: the message does not say the probe disappeared"
grep -q "run vesc-rescue recover again" "$TD/out" || fail "run 1: no advice to run again"
backup_is "$st.before"
cmp -s "$st.before" "$TD/expected.bin" && fail "test setup: the chip was already recovered"
[ "$(journal_count '"event":"end"')" = 0 ] || fail "run 1: an interrupted run must not look ended"

vr --sim "corrupt-app,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
expect_rc 0 "run 2"
grep -q "Resuming the interrupted recovery" "$TD/err" || fail "run 2 did not resume"
flash_is "$st" "$TD/expected.bin" "after run 2"
backup_is "$st.before"   # still the one backup, of the original flash
[ "$(journal_count '"event":"start"')" = 2 ] || fail "the journal does not hold two runs"
[ "$(journal_count '"step":"mass-erase".*"result":"started"')" = 1 ] || fail "run 2 erased again"
j=$(journal_file)
second=$(grep -n '"event":"start"' "$j" | tail -n 1 | cut -d: -f1)
tail -n "+$second" "$j" | grep -q '"step":"write-firmware".*"result":"ok"' || fail "run 2: firmware write not finished"
tail -n "+$second" "$j" | grep -q '"step":"verify".*"result":"ok"' || fail "run 2: no verify"
journal_ended
echo "recover resume after a yanked probe: ok"
