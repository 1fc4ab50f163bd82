#!/bin/sh
# The dashboard while it works: key latency during a real-time mass erase
# (8 s modeled = 8 s real at time-scale=1), CPU of an idle dashboard, and
# peak RSS, on the simulated bench inside tmux. Latency is measured from
# tmux send-keys to the first capture-pane that shows the answer, so it
# includes tmux's own round trip. Figures, not a test.
set -u
: "${VR_BIN:?}" "${BUILD:?}"
command -v tmux >/dev/null || { echo "tmux not installed: skipped"; exit 0; }
tmp=$(mktemp -d)
sock="vr-bench-$$"
tm() { tmux -L "$sock" -f /dev/null "$@"; }
trap 'tm kill-server >/dev/null 2>&1; rm -rf "$tmp"' EXIT
"$BUILD/tests/tool_synth" firmware 6.05 "$tmp/fw.bin"
"$BUILD/tests/tool_synth" bootloader generic "$tmp/bl.bin"
ms() { date +%s%3N; }
screen() { tm capture-pane -p -t bench 2>/dev/null; }
wait_for() {  # TEXT [SECONDS]
	deadline=$(( $(ms) + ${2:-20} * 1000 ))
	while ! screen | grep -qF "$1"; do
		[ "$(ms)" -lt "$deadline" ] || { echo "  (gave up waiting for '$1')"; return 1; }
		sleep 0.005
	done
}
wait_gone() {
	deadline=$(( $(ms) + 5000 ))
	while screen | grep -qF "$1"; do [ "$(ms)" -lt "$deadline" ] || return 1; sleep 0.005; done
}

cat >"$tmp/run.sh" <<EOT
XDG_STATE_HOME="$tmp/state" exec "$VR_BIN" --sim corrupt-app,time-scale=1 \
	--bootloader "$tmp/bl.bin" --firmware "$tmp/fw.bin"
EOT
tm new-session -d -s bench -x 80 -y 24 "sh $tmp/run.sh" || { echo "  no figures: tmux could not start"; exit 1; }
pid=$(tm list-panes -t bench -F '#{pane_pid}')
missing() { echo "  no figures: $1"; exit 1; }
# The dashboard probes by itself at start; wait for that plan, idle.
wait_for "Erase the whole flash" 30 || missing "the plan never appeared"
wait_for "a run on" 10 || missing "the engine never became idle"
tm send-keys -t bench a
wait_for "Erase the whole flash?" 30 || missing "the erase confirmation never came"
tm send-keys -t bench y
wait_for "typical 8.0 s" 10 || missing "the mass erase never started"

# During the erase: open and close the wiring guide, timing each answer.
lat=""
for i in 1 2 3 4 5; do
	t0=$(ms); tm send-keys -t bench w; wait_for "WIRING: VESC" 5 || break; t1=$(ms)
	lat="$lat $((t1 - t0))"
	tm send-keys -t bench Escape; wait_gone "WIRING: VESC" || break
done
screen | grep -qF "mass erase" && still="still erasing" || still="the erase had ended"
echo "$lat" | awk -v s="$still" '{ n = split($0, v, " "); m = 0; t = 0; for (i = 1; i <= n; i++) { t += v[i]; if (v[i] > m) m = v[i] } if (n) printf "  key latency during a mass erase: mean %.0f ms, max %d ms over %d keys (%s; includes tmux)\n", t / n, m, n, s }'

wait_for "Recovered: the VESC answers" 60 || true
# Idle: nothing runs; CPU ticks over 3 s.
if [ -r "/proc/$pid/stat" ]; then
	t0=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	sleep 3
	t1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	hz=$(getconf CLK_TCK)
	awk -v d=$((t1 - t0)) -v hz="$hz" 'BEGIN { printf "  idle dashboard CPU: %.2f %% of one core (%d ticks in 3 s)\n", 100 * d / hz / 3, d }'
	awk '/VmHWM/ { printf "  peak RSS: %.1f MiB\n", $2 / 1024 }' "/proc/$pid/status"
fi
tm send-keys -t bench q
