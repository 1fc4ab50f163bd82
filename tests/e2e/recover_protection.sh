#!/bin/sh
# Read and write protection (issue 5 "Tests": RDP1, WRP). Removing either
# needs --allow-unprotect besides --yes; without it: exit 7 and neither
# the flash nor the option bytes change. With it: RDP1 regression (the chip
# erases itself; nothing readable to back up), the power cycle the person
# confirms on the terminal, then the canonical path; WRP is cleared after
# the backup and the chip recovered.
set -eu
. "$(dirname "$0")/lib.sh"
t_setup
command -v python3 >/dev/null || skip "python3 is needed to drive the power-cycle prompt on a pty"
expected_recovered "$TD/expected.bin"

for sc in rdp1 wrp; do
	rm -rf "$XDG_STATE_HOME"
	st=$TD/$sc.state
	chip_init "$sc" "$st"
	opt_before=$("$CHIP" optcr "$st")
	vr --sim "$sc,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
	expect_rc 7 "$sc without --allow-unprotect"
	grep -q -- "--allow-unprotect" "$TD/err" || fail "$sc: the refusal does not name --allow-unprotect"
	flash_is "$st" "$st.before" "$sc refused: flash untouched"
	[ "$("$CHIP" optcr "$st")" = "$opt_before" ] || fail "$sc refused: option bytes changed"
	echo "ok: $sc refused without --allow-unprotect"
done

# RDP1 with --allow-unprotect; the person confirms the power cycle
rm -rf "$XDG_STATE_HOME"
st=$TD/rdp1.state
chip_init rdp1 "$st"
pty_run 'disconnect the VESC.s power.*\n.*Press Enter when done=>' -- \
	"$VR_BIN" --sim "rdp1,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes --allow-unprotect
expect_rc 0 "rdp1 with --allow-unprotect"
[ "$("$CHIP" optcr "$st")" = 0x0FFFAAED ] || fail "rdp1: option bytes not back to factory RDP 0 ($("$CHIP" optcr "$st"))"
flash_is "$st" "$TD/expected.bin" "rdp1 recovered"
no_backup  # under RDP 1 nothing can be read; the confirmation said so
journal_has '"step":"rdp-regress".*"result":"started"' "rdp1: regression started"
journal_has '"step":"rdp-regress".*"result":"ok"' "rdp1: regression done"
journal_has '"step":"write-firmware".*"result":"ok"' "rdp1: firmware written"
journal_ended
echo "ok: rdp1 recovered"

# WRP with --allow-unprotect
rm -rf "$XDG_STATE_HOME"
st=$TD/wrp.state
chip_init wrp "$st"
vr --sim "wrp,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes --allow-unprotect
expect_rc 0 "wrp with --allow-unprotect"
[ "$("$CHIP" optcr "$st")" = 0x0FFFAAED ] || fail "wrp: nWRP not cleared ($("$CHIP" optcr "$st"))"
flash_is "$st" "$TD/expected.bin" "wrp recovered"
backup_is "$st.before"
j=$(journal_file)
bl=$(grep -n '"event":"backup"' "$j" | head -n 1 | cut -d: -f1)
wl=$(grep -n '"step":"wrp-clear"' "$j" | head -n 1 | cut -d: -f1)
[ -n "$wl" ] || fail "wrp: no wrp-clear step in the journal"
[ "$bl" -lt "$wl" ] || fail "wrp: protection cleared before the backup"
journal_ended
echo "ok: wrp recovered"
echo "recover protection: ok"
