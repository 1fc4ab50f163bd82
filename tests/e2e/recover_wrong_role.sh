#!/bin/sh
# Wrong-role images (issue 5 "Tests", issue 8): a bootloader given as
# --firmware, a firmware given as --bootloader, and both swapped: refused
# with exit 3 naming the case, before anything touches the chip: the flash
# is byte-for-byte what it was, no backup, no erase in any journal.
set -eu
. "$(dirname "$0")/lib.sh"
t_setup
st=$TD/chip.state
chip_init corrupt-app "$st"

check_refused() {
	expect_rc 3 "$1"
	grep -Eqi "bootloader|firmware" "$TD/err" || fail "$1: the message does not name the role"
	flash_is "$st" "$st.before" "$1: flash untouched"
	no_backup
	if ls "$SD"/journal-*.jsonl >/dev/null 2>&1; then
		[ "$(journal_count '"step":"(mass-erase|sector-erase|write-)')" = 0 ] ||
			fail "$1: destructive steps in the journal"
	fi
	echo "ok: $1"
}

vr --sim "corrupt-app,state=$st" recover --bootloader "$BL" --firmware "$BL" --yes --force
check_refused "bootloader as --firmware"
vr --sim "corrupt-app,state=$st" recover --bootloader "$FW" --firmware "$FW" --yes --force
check_refused "firmware as --bootloader"
vr --sim "corrupt-app,state=$st" recover --bootloader "$FW" --firmware "$BL" --yes --force
check_refused "both swapped"
vr --sim "corrupt-app,state=$st" recover --firmware "$BL" --yes
check_refused "bootloader as the only --firmware"
# the flash subcommand too: a bootloader written as the firmware
vr --sim "corrupt-app,state=$st" write "$BL" --at 0x08000000 --yes --force
expect_rc 3 "write: a bootloader at 0x08000000"
flash_is "$st" "$st.before" "write: flash untouched"
echo "ok: write refuses a bootloader at 0x08000000"
echo "recover wrong role: ok"
