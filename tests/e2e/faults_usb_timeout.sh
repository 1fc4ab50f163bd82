#!/bin/sh
# USB timeout on every k-th ST-Link transfer (issue 8; usb-timeout-every=K).
# The driver resets the probe once per run; a second timeout ends the run.
# Every run must end with 0 or with 10 and a clear message (never a crash,
# never exit 9 with a half-written chip), nothing may be erased before the
# backup, and the chip must stay finishable: rerunning on the same flaky
# probe (then, if it never gets through, on a good one) ends with exactly
# the expected flash and the original flash in the backup.
set -eu
. "$(dirname "$0")/lib.sh"
t_setup
expected_recovered "$TD/expected.bin"

for k in 400 1000 2500; do
	rm -rf "$XDG_STATE_HOME"
	st=$TD/k$k.state
	chip_init corrupt-app "$st"
	run=0 done=
	while [ $run -lt 4 ] && [ -z "$done" ]; do
		run=$((run + 1))
		vr --sim "corrupt-app,usb-timeout-every=$k,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
		case $RC in
		0) done=yes ;;
		10) grep -Eq "ST-Link|flash loader" "$TD/out" || fail "k=$k run $run: exit 10 without saying why"
		    grep -q "run vesc-rescue recover again" "$TD/out" || fail "k=$k run $run: no advice to rerun" ;;
		*) fail "k=$k run $run: exit $RC (expected 0 or 10)" ;;
		esac
		if ! ls "$SD"/journal-*.jsonl >/dev/null 2>&1 || [ "$(journal_count '"step":"mass-erase"')" = 0 ]; then
			flash_is "$st" "$st.before" "k=$k run $run: nothing erased yet, flash must be untouched"
		else
			oldest=$(ls "$SD"/backup-*.bin | head -n 1)
			cmp -s "$oldest" "$st.before" || fail "k=$k: erased, but the first backup is not the original flash"
		fi
	done
	if [ -z "$done" ]; then
		echo "k=$k: $run runs on the flaky probe did not finish; a good probe now"
		vr --sim "corrupt-app,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
		expect_rc 0 "k=$k: the run on a good probe"
	fi
	flash_is "$st" "$TD/expected.bin" "k=$k: final flash"
	oldest=$(ls "$SD"/backup-*.bin | head -n 1)
	cmp -s "$oldest" "$st.before" || fail "k=$k: the first backup is not the original flash"
	[ "$(stat -c %a "$oldest")" = 600 ] || fail "k=$k: backup mode"
	journal_ended
	echo "ok: timeout every $k transfers (${run} run(s) on the flaky probe${done:+, finished there})"
done
echo "faults usb timeout: ok"
