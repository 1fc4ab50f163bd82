#!/bin/sh
# The VESC's port closes in the middle of a reply (issue 8 "pty closed
# mid-reply"; link=disconnect: half of the first reply, then the pty goes
# away). probe must say so (exit 4, "hung up"/"vanished", a serial entry
# with status "error" in valid JSON), never crash, and touch nothing;
# recover --dry-run plans from it without touching the chip.
set -eu
. "$(dirname "$0")/lib.sh"
t_setup
st=$TD/chip.state
chip_init healthy "$st"

vr --sim "healthy,link=disconnect,state=$st" probe
expect_rc 4 "probe, port gone mid-reply"
grep -Eq "hung up|vanished" "$TD/out" || fail "probe does not say the port went away"
vr --json --sim "healthy,link=disconnect,state=$st" probe
expect_rc 4 "probe --json"
python3 - "$TD/out" <<'PY' || fail "probe --json: not the expected JSON"
import json, sys
d = json.load(open(sys.argv[1]))
s = [p for p in d["serial"] if p["status"] == "error"]
assert s and "vanished" in s[0]["detail"], d["serial"]
assert d["swd"]["attach"] == "normal"
PY
vr --sim "healthy,link=disconnect,state=$st" recover --dry-run --bootloader "$BL" --firmware "$FW"
expect_rc 0 "recover --dry-run"
grep -q "^Plan" "$TD/out" || fail "recover --dry-run printed no plan"
flash_is "$st" "$st.before" "nothing touched"
no_backup
echo "faults pty closed: ok"
