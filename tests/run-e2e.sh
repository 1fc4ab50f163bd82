#!/bin/sh
# Runs every end-to-end script in tests/e2e/ (and tests/conformance/) with
# BUILD pointing at the build directory. Each script exits 0 on success,
# 77 when skipped. Prints a closing tally.
set -u
BUILD=${BUILD:-build}
export BUILD
export VR_BIN="$PWD/$BUILD/vesc-rescue"
export VR_FACADE="$PWD/$BUILD/libbench-usb.so"
pass=0 fail=0 skip=0 failed=""
for t in tests/e2e/*.sh tests/conformance/*.sh; do
	case ${t##*/} in lib*) continue ;; esac
	[ -f "$t" ] || continue
	log="$BUILD/e2e-$(basename "$t" .sh).log"
	mkdir -p "$BUILD"
	if sh "$t" >"$log" 2>&1; then
		pass=$((pass + 1)); echo "ok   $t"
	else
		rc=$?
		if [ $rc = 77 ]; then skip=$((skip + 1)); echo "skip $t";
		else fail=$((fail + 1)); failed="$failed $t"; echo "FAIL $t (exit $rc), log: $log"; tail -n 20 "$log"; fi
	fi
done
echo "e2e: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
