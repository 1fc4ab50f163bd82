#!/bin/sh
# The firmware file changes between load and write (issue 8). The erase is
# slowed to real time (time-scale) and, once it has started, the file is
# replaced by another valid firmware. The write must be refused (exit 3,
# the message says the file changed), nothing of the new file programmed;
# the chip stays finishable: a second run with the file as it is now
# ends with exactly that image in flash.
set -eu
. "$(dirname "$0")/lib.sh"
t_setup
st=$TD/chip.state
chip_init corrupt-app "$st"
"$SYNTH" firmware 6.05 "$TD/other.bin" 0x1234 >/dev/null || fail "tool_synth"
cmp -s "$FW" "$TD/other.bin" && fail "test setup: the two firmware images are equal"

timeout "$RUN_TIMEOUT" "$VR_BIN" --sim "corrupt-app,time-scale=0.3,state=$st" recover \
	--bootloader "$BL" --firmware "$FW" --yes </dev/null >"$TD/out" 2>"$TD/err" &
BG_PID=$!
i=0
until grep -qs '"step":"mass-erase".*"result":"started"' "$SD"/journal-*.jsonl; do
	i=$((i + 1))
	[ $i -lt 1500 ] || fail "the erase never started"
	kill -0 "$BG_PID" 2>/dev/null || fail "the run ended before the erase"
	sleep 0.02
done
grep -qs '"step":"mass-erase".*"result":"ok"' "$SD"/journal-*.jsonl &&
	fail "the erase finished before the file could be changed (time-scale too small?)"
cp "$TD/other.bin" "$FW.new" && mv "$FW.new" "$FW"
set +e; wait "$BG_PID"; RC=$?; set -e
BG_PID=
expect_rc 3 "firmware file replaced during the erase"
grep -Eqi "changed|modified" "$TD/err" "$TD/out" || fail "the message does not say the file changed"
journal_has '"step":"mass-erase".*"result":"ok"' "the erase itself finished"
[ "$(journal_count '"step":"write-firmware".*"result":"ok"')" = 0 ] || fail "the firmware write went on"
[ "$(journal_count '"event":"progress".*"step":"write-firmware"')" = 0 ] || fail "firmware blocks were written"
backup_is "$st.before"
"$CHIP" dump "$st" "$TD/mid.bin"
cmp -s "$TD/mid.bin" "$st.before" && fail "nothing was erased: the test did not reach its point"
# nothing of the firmware region programmed
[ "$(od -An -v -tx1 -N 524288 "$TD/mid.bin" | tr -d ' \n' | tr -d f | wc -c)" = 0 ] ||
	fail "the application region is not blank after the refused write"
echo "run 1: refused with exit 3 after the erase"

vr --sim "corrupt-app,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
expect_rc 0 "run 2 with the file as it is now"
"$CHIP" expect "$TD/expected.bin" "$FW" "$BL" || fail "tool_chip expect"
flash_is "$st" "$TD/expected.bin" "after run 2"
journal_ended
echo "faults image changed: ok"
