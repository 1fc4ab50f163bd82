#!/bin/sh
# SIGHUP mid-write (a dropped SSH session), then a second run finishes
# (issue 5 "Tests", issue 8). With modeled time slowed to real time
# (time-scale), the hangup arrives once the firmware write has journaled
# its first block: run 1 finishes the current block, journals it and exits
# 10; run 2 resumes (no new erase), verifies, and the VESC answers. The
# final flash is exactly the expected image; the backup is the original.
# A hangup during the mass erase (which cannot stop halfway) lets the
# erase finish, then stops with exit 10 before anything is written.
set -eu
. "$(dirname "$0")/lib.sh"
t_setup
expected_recovered "$TD/expected.bin"
st=$TD/chip.state
chip_init corrupt-app "$st"

timeout "$RUN_TIMEOUT" "$VR_BIN" --sim "corrupt-app,time-scale=0.25,state=$st" recover \
	--bootloader "$BL" --firmware "$FW" --yes </dev/null >"$TD/out" 2>"$TD/err" &
BG_PID=$!
i=0
until grep -qs '"event":"progress".*"step":"write-firmware"' "$SD"/journal-*.jsonl; do
	i=$((i + 1))
	[ $i -lt 1500 ] || fail "the firmware write never started (30 s)"
	kill -0 "$BG_PID" 2>/dev/null || fail "run 1 ended before the write"
	sleep 0.02
done
sent_ms=$(now_ms)
kill -HUP "$BG_PID"
set +e; wait "$BG_PID"; RC=$?; set -e
BG_PID=
j=$(journal_file)
took=$(($(now_ms) - sent_ms))
expect_rc 10 "run 1 after SIGHUP"
echo "run 1: exit 10, $took ms after SIGHUP"
[ "$took" -lt 5000 ] || fail "run 1 took $took ms to stop after SIGHUP (one block is well under a second)"
grep -q '"step":"write-firmware".*"result":"interrupted".*"offset":[1-9]' "$j" ||
	fail "run 1: the journal does not record how far the write got"
blocks=$(grep -c '"event":"progress".*"step":"write-firmware"' "$j")
[ "$blocks" -lt 8 ] || fail "run 1 wrote all $blocks blocks: the signal did not stop it"
backup_is "$st.before"
[ "$(journal_count '"event":"end"')" = 0 ] || fail "run 1: an interrupted run must not look ended"

vr --sim "corrupt-app,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
expect_rc 0 "run 2"
grep -q "Resuming the interrupted recovery" "$TD/err" || fail "run 2 did not resume"
flash_is "$st" "$TD/expected.bin" "after run 2"
backup_is "$st.before"
[ "$(journal_count '"event":"start"')" = 2 ] || fail "the journal does not hold two runs"
[ "$(journal_count '"step":"mass-erase".*"result":"started"')" = 1 ] || fail "run 2 erased again"
journal_has '"step":"verify".*"result":"ok"' "verify"
journal_ended
echo "ok: SIGHUP mid-write"

# SIGHUP during the erase
rm -rf "$XDG_STATE_HOME"
chip_init corrupt-app "$st"
timeout "$RUN_TIMEOUT" "$VR_BIN" --sim "corrupt-app,time-scale=0.25,state=$st" recover \
	--bootloader "$BL" --firmware "$FW" --yes </dev/null >"$TD/out" 2>"$TD/err" &
BG_PID=$!
i=0
until grep -qs '"step":"mass-erase".*"result":"started"' "$SD"/journal-*.jsonl; do
	i=$((i + 1))
	[ $i -lt 1500 ] || fail "the erase never started"
	kill -0 "$BG_PID" 2>/dev/null || fail "the run ended before the erase"
	sleep 0.02
done
kill -HUP "$BG_PID"
set +e; wait "$BG_PID"; RC=$?; set -e
BG_PID=
expect_rc 10 "SIGHUP during the erase"
journal_has '"step":"mass-erase".*"result":"ok"' "the erase was finished"
[ "$(journal_count '"step":"write-')" = 0 ] || fail "SIGHUP during the erase: writes went on"
grep -qi "run vesc-rescue recover again" "$TD/out" || fail "SIGHUP during the erase: no advice to rerun"
vr --sim "corrupt-app,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
expect_rc 0 "run 2 after SIGHUP during the erase"
flash_is "$st" "$TD/expected.bin" "after SIGHUP during the erase and run 2"
backup_is "$st.before"
[ "$(journal_count '"step":"mass-erase".*"result":"started"')" = 1 ] || fail "run 2 erased again"
journal_ended
echo "ok: SIGHUP during the erase"
echo "recover resume after SIGHUP: ok"
