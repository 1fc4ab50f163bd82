#!/bin/sh
# Security (issue 8): files we create are 0600 (backup + manifest, journal,
# --log); a symbolic link planted at the --log or --backup path is refused
# and its target never created; the program refuses to run setuid; input
# files are size-capped before reading (a 100 MB sparse --firmware is
# refused fast, exit 3, the chip untouched).
set -eu
. "$(dirname "$0")/lib.sh"
t_setup
st=$TD/chip.state
chip_init corrupt-app "$st"

# 1. modes of what a recovery creates
vr --sim "corrupt-app,state=$st" --log "$TD/run.log" recover --bootloader "$BL" --firmware "$FW" --yes
expect_rc 0 "recover with --log"
backup_is "$st.before"
[ "$(stat -c %a "$(journal_file)")" = 600 ] || fail "journal mode $(stat -c %a "$(journal_file)")"
[ -s "$TD/run.log" ] || fail "--log wrote nothing"
[ "$(stat -c %a "$TD/run.log")" = 600 ] || fail "--log mode $(stat -c %a "$TD/run.log")"
[ "$(stat -c %a "$SD")" = 700 ] || fail "state directory mode $(stat -c %a "$SD")"
echo "ok: backup, manifest, journal, log and state dir are private"

# 2. symbolic links planted at --log and --backup
rm -rf "$XDG_STATE_HOME"
chip_init corrupt-app "$st"
ln -s "$TD/log-target" "$TD/planted.log"
vr --sim "corrupt-app,state=$st" --log "$TD/planted.log" recover --bootloader "$BL" --firmware "$FW" --yes
[ "$RC" != 0 ] || fail "--log through a symbolic link was accepted"
grep -qi "symbolic link" "$TD/err" || fail "--log symlink: the message does not say why"
[ ! -e "$TD/log-target" ] || fail "--log symlink: its target was created"
flash_is "$st" "$st.before" "--log symlink: flash untouched"
ln -s "$TD/backup-target" "$TD/planted.bin"
vr --sim "corrupt-app,state=$st" recover --bootloader "$BL" --firmware "$FW" --backup "$TD/planted.bin" --yes
# refused before anything is read or touched
expect_rc 2 "--backup through a symbolic link"
grep -q "symbolic link: refused" "$TD/err" || fail "--backup symlink: the refusal does not say why"
[ ! -e "$TD/backup-target" ] && [ ! -e "$TD/backup-target.json" ] || fail "--backup symlink: its target was created"
! grep -qs '"step":"mass-erase"' "$SD"/journal-*.jsonl || fail "--backup symlink: erased anyway"
flash_is "$st" "$st.before" "--backup symlink: flash untouched"
ln -s "$TD/plain-target" "$TD/planted2.bin"
vr --sim "corrupt-app,state=$st" backup "$TD/planted2.bin"
[ "$RC" != 0 ] && [ ! -e "$TD/plain-target" ] || fail "backup FILE through a symbolic link: exit $RC"
echo "ok: symbolic links at --log, --backup and backup FILE refused"

# 3. setuid
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	bin=$TD/suid
	mkdir -p "$bin"
	chmod 755 "$TD" "$bin"
	cp "$VR_BIN" "$bin/vesc-rescue"
	cp "$(command -v id)" "$bin/id"
	chmod 4755 "$bin/vesc-rescue" "$bin/id"
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	if [ "$(as_nobody "$bin/id" -u)" = 0 ]; then
		set +e
		as_nobody "$bin/vesc-rescue" --sim healthy probe >"$TD/out" 2>"$TD/err"
		RC=$?
		set -e
		[ "$RC" != 0 ] || fail "ran setuid root for a user"
		grep -q "refusing to run setuid" "$TD/err" || fail "setuid: the message does not say why"
		echo "ok: refuses to run setuid"
	else
		echo "note: setuid bits have no effect here (nosuid mount): setuid case not run"
	fi
else
	echo "note: needs root, setpriv and user nobody: setuid case not run"
fi

# 4. size cap: a 100 MB sparse file is refused before it is read
truncate -s 100M "$TD/huge.bin"
t0=$(now_ms)
vr --sim "corrupt-app,state=$st" recover --bootloader "$BL" --firmware "$TD/huge.bin" --yes
took=$(($(now_ms) - t0))
expect_rc 3 "100 MB --firmware"
grep -q "huge.bin" "$TD/err" || fail "size cap: the message does not name the file"
[ "$took" -lt 2000 ] || fail "size cap: took $took ms (read before refusing?)"
vr --sim "corrupt-app,state=$st" recover --bootloader "$TD/huge.bin" --firmware "$FW" --yes
expect_rc 3 "100 MB --bootloader"
vr --sim "corrupt-app,state=$st" write "$TD/huge.bin" --at 0x08000000 --yes
expect_rc 3 "100 MB write FILE"
flash_is "$st" "$st.before" "size cap: flash untouched"
echo "ok: 100 MB inputs refused in $took ms"
echo "faults security: ok"
