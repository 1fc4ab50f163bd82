# Shared helpers for the recover_*.sh and faults_*.sh end-to-end scripts.
# Sourced, not run. Needs VR_BIN (absolute path of the binary); the tools
# (tool_synth, tool_chip) come from the same build directory.
#
# Every test gets a private directory ($TD) with its own XDG_STATE_HOME and
# HOME, synthetic images ($FW 6.05, $BL generic), and removes it on exit.
# The chip is always persisted (state=FILE), so its flash can be read
# before and after a run through tool_chip's backdoor, never through the
# tool under test.
set -u
# tests/run-e2e.sh runs every tests/e2e/*.sh: this file is not a test.
case $0 in */lib.sh | lib.sh) echo "lib.sh: helpers sourced by the e2e scripts, not a test"; exit 0 ;; esac
: "${VR_BIN:?VR_BIN must be the absolute path of vesc-rescue}"
TOOLS=$(dirname "$VR_BIN")/tests
CHIP=$TOOLS/tool_chip
SYNTH=$TOOLS/tool_synth
RUN_TIMEOUT=${RUN_TIMEOUT:-60}

fail() {
	echo "FAIL: $*"
	if [ -n "${TD:-}" ] && [ -f "$TD/err" ]; then
		echo "--- last stderr (tail):"; tail -n 25 "$TD/err"
		echo "--- last stdout:"; cat "$TD/out"
	fi
	exit 1
}

skip() {
	echo "SKIP: $*"
	exit 77
}

t_setup() {
	[ -x "$CHIP" ] && [ -x "$SYNTH" ] || skip "tools not built: $CHIP, $SYNTH (make check-e2e builds them)"
	TD=$(mktemp -d "${TMPDIR:-/tmp}/vr-e2e.XXXXXX")
	trap 't_cleanup' EXIT
	trap 'exit 1' INT TERM HUP
	export XDG_STATE_HOME="$TD/state" HOME="$TD/home"
	mkdir -p "$HOME"
	SD=$XDG_STATE_HOME/vesc-rescue
	FW=$TD/fw.bin
	BL=$TD/bl.bin
	"$SYNTH" firmware 6.05 "$FW" >/dev/null || fail "tool_synth firmware"
	"$SYNTH" bootloader generic "$BL" >/dev/null || fail "tool_synth bootloader"
	: >"$TD/out"; : >"$TD/err"
}

# Keeps the script's exit status (the EXIT trap's last command would
# otherwise replace it in dash). CLEANUP_EXTRA: a command run first.
t_cleanup() {
	s=$?
	set +e
	[ -n "${CLEANUP_EXTRA:-}" ] && eval "$CLEANUP_EXTRA" 2>/dev/null
	[ -n "${BG_PID:-}" ] && kill "$BG_PID" 2>/dev/null
	[ -n "${TD:-}" ] && rm -rf "$TD"
	exit "$s"
}

# vr ARGS...: runs the binary (bounded), stdin from /dev/null; sets RC.
vr() {
	set +e
	timeout "$RUN_TIMEOUT" "$VR_BIN" "$@" </dev/null >"$TD/out" 2>"$TD/err"
	RC=$?
	set -e
	cat "$TD/err" >>"$TD/all.log"
}

expect_rc() {
	[ "$RC" = "$1" ] || fail "$2: exit status $RC, expected $1"
}

# chip_init SCENARIO STATE: the scenario's chip, saved, and its flash as STATE.before
chip_init() {
	"$CHIP" init "$1" "$2" || fail "tool_chip init $1"
	"$CHIP" dump "$2" "$2.before" || fail "tool_chip dump $2"
}

# flash_is STATE EXPECTED WHAT: the chip's whole flash equals EXPECTED, byte for byte
flash_is() {
	"$CHIP" dump "$1" "$TD/flash.now" || fail "tool_chip dump $1"
	if ! cmp -s "$TD/flash.now" "$2"; then
		echo "first differences (offset, got, expected; octal):"
		cmp -l "$TD/flash.now" "$2" | head -n 8
		fail "$3: the flash differs from the expected image"
	fi
}

# expected_recovered OUT: firmware + bootloader after the first boot
expected_recovered() {
	"$CHIP" expect "$1" "$FW" "$BL" || fail "tool_chip expect"
}

# overlay FILE IMAGE OFFSET: IMAGE written into FILE at OFFSET
overlay() {
	dd if="$2" of="$1" bs=4096 seek="$(($3 / 4096))" conv=notrunc status=none || fail "dd"
}

journal_file() {
	set -- "$SD"/journal-*.jsonl
	[ -f "$1" ] || fail "no journal in $SD"
	echo "$1"
}

# journal_has PATTERN WHAT: a journal line matches (grep -E)
journal_has() {
	grep -Eq "$1" "$(journal_file)" || fail "journal lacks $2 ($1)"
}

journal_count() {
	grep -Ec "$1" "$(journal_file)" || true
}

# journal_ended: the last event of the last run is its end
journal_ended() {
	tail -n 1 "$(journal_file)" | grep -q '"event":"end"' || fail "the journal's last line is not an end event"
}

# backup_is BEFORE: exactly N (default 1) backups; the newest is mode 0600,
# has its manifest, and equals the flash before the run
backup_is() {
	n=$(ls "$SD"/backup-*.bin 2>/dev/null | wc -l)
	[ "$n" = "${2:-1}" ] || fail "expected ${2:-1} backup file(s), found $n"
	b=$(ls "$SD"/backup-*.bin | tail -n 1)
	[ "$(stat -c %a "$b")" = 600 ] || fail "backup $b has mode $(stat -c %a "$b"), not 600"
	[ -f "$b.json" ] || fail "backup $b has no manifest"
	[ "$(stat -c %a "$b.json")" = 600 ] || fail "manifest mode $(stat -c %a "$b.json"), not 600"
	cmp -s "$b" "$1" || fail "backup $b is not the flash before the run"
}

no_backup() {
	n=$(ls "$SD"/backup-*.bin 2>/dev/null | wc -l)
	[ "$n" = 0 ] || fail "a backup was written, none expected"
}

# sh has no sub-second clock; date +%s%N is GNU, which these machines have.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# pty_run 'PATTERN=>ANSWER' ... -- CMD ARGS: runs CMD on a pseudo-terminal
# (stdin, stdout and stderr are the terminal, as for a person at an SSH
# prompt), types ANSWER + Enter each time the next PATTERN (a Python
# regex) appears in its output, in order; sets RC, output in $TD/err.
# A pattern that never appears leaves the program waiting: the timeout
# then ends it (status 124 or more), which the caller's expect_rc catches.
pty_run() {
	set +e
	python3 - "$RUN_TIMEOUT" "$@" >"$TD/err" 2>&1 <<'PY'
import os, pty, re, select, sys, time
limit = float(sys.argv[1]); args = sys.argv[2:]
sep = args.index("--")
pairs = [a.split("=>", 1) for a in args[:sep]]
cmd = args[sep + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
buf, seen, deadline = b"", 0, time.time() + limit
while True:
    if time.time() > deadline:
        os.kill(pid, 9); os.waitpid(pid, 0); sys.stdout.write(buf.decode(errors="replace")); sys.exit(124)
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            break
        buf += data
        if pairs and re.search(pairs[0][0].encode(), buf[seen:]):
            seen = len(buf)
            os.write(fd, pairs[0][1].encode() + b"\r")
            pairs.pop(0)
_, status = os.waitpid(pid, 0)
sys.stdout.write(buf.decode(errors="replace"))
if pairs:
    sys.stdout.write("\npty_run: never asked: %s\n" % [p[0] for p in pairs])
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
PY
	RC=$?
	set -e
	: >"$TD/out"
	cat "$TD/err" >>"$TD/all.log"
}
