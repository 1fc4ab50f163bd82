#!/bin/sh
# Firmware for another HW than the VESC reports (issue 8, CONTRACTS §6: the
# check needs the HW -- live answer or --hw -- and the image's group from
# --images). 1. No image for the HW: refused, flash untouched. 2. The VESC
# reports HW 60 while --hw says 75_300: its working firmware is never
# replaced by the 75_300 image (only the missing bootloader is written).
# 3. The person's --hw was wrong (the board, once running, reports another
# HW than the image written): exit 3, the outcome names that HW, never
# "Nothing was changed".
set -eu
. "$(dirname "$0")/lib.sh"
t_setup
tree=$TD/tree
mkdir -p "$tree/res/firmwares/75_300" "$tree/res/firmwares/60" "$tree/res/bootloaders"
cp "$FW" "$tree/res/firmwares/75_300/VESC_default.bin"
cp "$BL" "$tree/res/bootloaders/generic.bin"
st=$TD/chip.state

# 1. nothing for HW 60 in the tree
chip_init corrupt-app "$st"
vr --sim "corrupt-app,state=$st" recover --images "$tree" --hw 60 --yes
expect_rc 3 "no firmware for HW 60"
grep -q "no firmware for HW 60" "$TD/err" || fail "1: the transcript does not say no image matches HW 60"
flash_is "$st" "$st.before" "1: flash untouched"
no_backup
journal_ended
[ "$(journal_count '"result":"started"')" = 0 ] || fail "1: a destructive step was started"
echo "ok: no image for the HW: refused"

# 2. the VESC says 60, the person says 75_300
"$SYNTH" firmware 6.05 "$tree/res/firmwares/60/VESC_default.bin" 0x60 >/dev/null
rm -rf "$XDG_STATE_HOME"
chip_init no-bootloader "$st"
vr --sim "no-bootloader,state=$st" recover --images "$tree" --hw 75_300 --yes
expect_rc 0 "VESC HW 60, --hw 75_300"
cp "$st.before" "$TD/expected.bin"
overlay "$TD/expected.bin" "$BL" $((0xE0000))
flash_is "$st" "$TD/expected.bin" "2: the running firmware must stay, only the bootloader added"
echo "ok: a running HW 60 firmware is not replaced by a 75_300 image"

# 3. the person's --hw is wrong: the board reports 75_300 once it runs
rm -rf "$XDG_STATE_HOME"
chip_init corrupt-app,hw=75_300 "$st"
vr --sim "corrupt-app,hw=75_300,state=$st" recover --images "$tree" --hw 60 --yes
expect_rc 3 "the board reports another HW than the image written"
grep -q "75_300" "$TD/out" || fail "3: the outcome does not name the HW the VESC reports"
grep -q "Nothing was changed" "$TD/out" && fail "3: says 'Nothing was changed' after rewriting the flash"
"$CHIP" expect "$TD/expected.bin" "$tree/res/firmwares/60/VESC_default.bin" "$BL" || fail "tool_chip expect"
flash_is "$st" "$TD/expected.bin" "3: the image the person chose"
backup_is "$st.before"
journal_has '"step":"write-firmware".*"result":"ok"' "3: the firmware write"
journal_ended
echo "ok: a wrong --hw is reported after the boot"
echo "faults hw mismatch: ok"
