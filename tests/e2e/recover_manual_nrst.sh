#!/bin/sh
# NRST not wired and SWD locked out by the running app (no-nrst): only a
# person shorting NRST attaches. The prompt comes on the terminal; this
# test is the person, on a pseudo-terminal: it answers the "short NRST"
# prompt with Enter. Without a terminal nobody can be asked: exit 4 and
# the flash untouched.
set -eu
. "$(dirname "$0")/lib.sh"
t_setup
command -v python3 >/dev/null || skip "python3 is needed to drive the prompt on a pty"
expected_recovered "$TD/expected.bin"
st=$TD/chip.state
chip_init no-nrst "$st"

# no terminal: no person to ask
vr --sim "no-nrst,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
expect_rc 4 "no terminal, manual reset needed"
grep -qi "NRST" "$TD/err" || fail "the message does not mention NRST"
flash_is "$st" "$st.before" "no terminal: flash untouched"
no_backup

# a person at the terminal
pty_run 'Short NRST to GND.*\n.*Press Enter when done=>' -- \
	"$VR_BIN" --sim "no-nrst,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
expect_rc 0 "manual NRST on a terminal"
grep -q "attach manual-reset: ok" "$TD/err" || fail "not attached by the manual rung"
grep -q "Release NRST" "$TD/err" || fail "the person was never told to release NRST"
flash_is "$st" "$TD/expected.bin" "manual NRST"
backup_is "$st.before"
journal_has '"step":"mass-erase".*"result":"ok"' "erase"
journal_has '"step":"write-firmware".*"result":"ok"' "firmware written"
journal_ended
echo "recover manual NRST: ok"
