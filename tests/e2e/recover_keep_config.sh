#!/bin/sh
# The motor and app configuration (sectors 1-2, 0x08004000-0x0800BFFF),
# byte for byte (issue 4, CONTRACTS.md §5):
# --keep-config: only sectors 0 and 3-7 are erased, the image is written
#   around the window, sectors 1-2 and the bootloader are left as they were;
# --restore-config: mass erase, then the saved sectors 1-2 go back in.
# The expected images are put together from the chip before the run and the
# image files (tool_chip expect adds the first boot's crcinfo), not from the
# tool's output.
set -eu
. "$(dirname "$0")/lib.sh"
t_setup
expected_recovered "$TD/recovered.bin"
window_blocks=$(((0xC000 - 0x4000) / 16384))
app_tail_blocks=$(((0x80000 - 0xC000) / 16384))

# A configuration that differs from the image's zeros in the window, so a
# write into the window would show.
chip_with_config() {
	chip_init corrupt-app "$1"
	"$CHIP" fill "$1" 0x4000 0x8000 || fail "tool_chip fill"
	"$CHIP" dump "$1" "$1.before" || fail "tool_chip dump"
}

# --- keep-config
st=$TD/keep.state
chip_with_config "$st"
cp "$st.before" "$TD/expected.bin"
dd if="$TD/recovered.bin" of="$TD/expected.bin" bs=16384 count=1 conv=notrunc status=none
dd if="$TD/recovered.bin" of="$TD/expected.bin" bs=16384 skip=3 seek=3 count="$app_tail_blocks" \
	conv=notrunc status=none
vr --sim "corrupt-app,state=$st" recover --firmware "$FW" --keep-config --yes
expect_rc 0 "keep-config"
flash_is "$st" "$TD/expected.bin" "keep-config"
cmp -s "$st.before" "$TD/flash.now" && fail "keep-config: nothing was written"
dd if="$st.before" bs=16384 skip=1 count="$window_blocks" status=none >"$TD/win.before"
dd if="$TD/flash.now" bs=16384 skip=1 count="$window_blocks" status=none >"$TD/win.after"
cmp -s "$TD/win.before" "$TD/win.after" || fail "keep-config: sectors 1-2 changed"
backup_is "$st.before"
journal_has '"step":"sector-erase".*"result":"ok"' "keep-config: sector erase"
[ "$(journal_count '"step":"mass-erase"')" = 0 ] || fail "keep-config: a mass erase ran"
journal_ended
echo "ok: keep-config"

# --- restore-config
rm -rf "$XDG_STATE_HOME"
st=$TD/restore.state
chip_with_config "$st"
cp "$TD/recovered.bin" "$TD/expected.bin"
dd if="$st.before" of="$TD/expected.bin" bs=16384 skip=1 seek=1 count="$window_blocks" \
	conv=notrunc status=none
vr --sim "corrupt-app,state=$st" recover --bootloader "$BL" --firmware "$FW" --restore-config --yes
expect_rc 0 "restore-config"
flash_is "$st" "$TD/expected.bin" "restore-config"
backup_is "$st.before"
journal_has '"step":"mass-erase".*"result":"ok"' "restore-config: mass erase"
journal_has '"step":"restore-config".*"result":"ok"' "restore-config: configuration restored"
journal_ended
echo "recover keep-config / restore-config: ok"
