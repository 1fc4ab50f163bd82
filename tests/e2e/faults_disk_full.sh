#!/bin/sh
# Disk full while writing the backup (issue 8): the run must stop before
# any erase. Two ways to fill the disk: a file size limit (ulimit -f: the
# write fails with EFBIG; the tool ignores SIGXFSZ) and, when this user
# may mount, a 300 KiB tmpfs as the state directory (ENOSPC). Each: exit 9,
# no partial backup left behind, no erase journaled, the flash untouched;
# with space again, the same chip recovers.
set -eu
. "$(dirname "$0")/lib.sh"
t_setup
st=$TD/chip.state

check_stopped() {
	expect_rc 9 "$1"
	grep -Eqi "too large|no space|disk" "$TD/err" || fail "$1: the message does not say the disk is full"
	grep -q "nothing was erased" "$TD/err" || fail "$1: the message does not say nothing was erased"
	no_backup
	[ "$(journal_count '"step":"(mass-erase|sector-erase|write-)')" = 0 ] || fail "$1: a destructive step was journaled"
	journal_has '"step":"backup".*"result":"failed"' "$1: the failed backup"
	flash_is "$st" "$st.before" "$1: flash untouched"
	echo "ok: $1"
}

# 1. a file size limit of 300 KiB (ulimit -f counts 512-byte blocks in sh)
chip_init corrupt-app "$st"
(
	ulimit -f 600
	vr --sim "corrupt-app,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
	echo "$RC" >"$TD/rc"
)
RC=$(cat "$TD/rc")
check_stopped "ulimit -f"
vr --sim "corrupt-app,state=$st" backup "$TD/b.bin"
[ "$RC" = 0 ] || fail "backup without a limit: exit $RC"
( ulimit -f 600; vr --sim "corrupt-app,state=$st" backup "$TD/limited.bin"; echo "$RC" >"$TD/rc" )
[ "$(cat "$TD/rc")" = 9 ] || fail "backup command under ulimit -f: exit $(cat "$TD/rc"), expected 9"
[ ! -e "$TD/limited.bin" ] || fail "backup command left a partial file"
echo "ok: backup command under ulimit -f"

# 2. a full file system
mnt=$TD/small
mkdir -p "$mnt"
if mount -t tmpfs -o size=300k,mode=0700 tmpfs "$mnt" 2>/dev/null; then
	CLEANUP_EXTRA='umount "$mnt"'
	rm -rf "$XDG_STATE_HOME"
	chip_init corrupt-app "$st"
	XDG_STATE_HOME=$mnt SD=$mnt/vesc-rescue
	export XDG_STATE_HOME
	vr --sim "corrupt-app,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
	check_stopped "tmpfs full"
	umount "$mnt"
	XDG_STATE_HOME=$TD/state SD=$TD/state/vesc-rescue
	vr --sim "corrupt-app,state=$st" recover --bootloader "$BL" --firmware "$FW" --yes
	expect_rc 0 "with space again"
	backup_is "$st.before"
	echo "ok: recovers once there is space"
else
	echo "note: cannot mount a tmpfs here (not root?): the ENOSPC case was not run"
fi
echo "faults disk full: ok"
