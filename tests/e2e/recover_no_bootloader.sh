#!/bin/sh
# An application that runs but no bootloader in sector 11 (issue 5 "Tests").
# SWD path: only the bootloader is written (no erase of the working app,
# which keeps its stored crcinfo); the flash ends as it was plus the
# bootloader; writing only into a blank sector needs no backup. USB path (no ST-Link,
# the person says the old firmware came back): COMM_ERASE_BOOTLOADER +
# WRITE_NEW_APP_DATA at 0x60000 must leave the same flash.
set -eu
. "$(dirname "$0")/lib.sh"
t_setup

# --- SWD path: both images given, only the missing one is written
st=$TD/swd.state
chip_init no-bootloader "$st"
cp "$st.before" "$TD/expected.bin"
overlay "$TD/expected.bin" "$BL" $((0xE0000))
vr --sim "no-bootloader,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
expect_rc 0 "SWD path"
grep -q "bootloader-only path" "$TD/out" || fail "SWD path: not the bootloader-only path"
flash_is "$st" "$TD/expected.bin" "SWD path"
# programming a blank sector destroys nothing: no backup is needed or taken
no_backup
journal_has '"step":"write-bootloader".*"result":"ok"' "bootloader written"
[ "$(journal_count '"step":"(mass-erase|sector-erase|write-firmware)"')" = 0 ] ||
	fail "SWD path: the working application was erased or rewritten"
journal_has '"step":"wait-vesc".*"result":"ok"' "the VESC answered"
journal_ended
echo "ok: SWD path"

# --- USB path: no ST-Link
rm -rf "$XDG_STATE_HOME"
st=$TD/usb.state
chip_init no-bootloader "$st"
# Without a terminal nobody can say whether the bootloader is missing, and
# --yes answers permissions, not questions of fact: nothing is written.
vr --sim "no-bootloader,probe=absent,state=$st" recover --bootloader "$BL" --yes
expect_rc 0 "USB path, no terminal: healthy, question unanswered"
grep -q "the answer stays unknown" "$TD/err" || fail "USB path: the unanswered question is not reported"
flash_is "$st" "$st.before" "USB path without an answer: flash must be untouched"
# A person at the terminal says the old firmware came back: the bootloader
# goes in over USB.
pty_run 'Your answer\? \[y/N\]=>y' -- \
	"$VR_BIN" --sim "no-bootloader,probe=absent,state=$st" recover --bootloader "$BL" --yes
expect_rc 0 "USB path"
flash_is "$st" "$TD/expected.bin" "USB path"
grep -q "bootloader was written over USB" "$TD/err" || fail "USB path: the outcome does not say the bootloader was written"
journal_has '"event":"answer"' "USB path: the person's answer"
journal_has '"step":"usb-erase-bootloader".*"result":"ok"' "USB path: erase"
journal_has '"step":"usb-write-bootloader".*"result":"ok"' "USB path: write"
journal_ended
echo "ok: USB path"
echo "recover no-bootloader: ok"
