#!/bin/sh
# Builds every tests/fuzz/fuzz_*.c with libFuzzer + ASan + UBSan against the
# engine's sources and runs each for FUZZ_SECONDS, seeded from
# tests/fuzz/corpus/<name>/. A crash fails the run and leaves its input.
set -u
BUILD=${BUILD:-build}
SECS=${FUZZ_SECONDS:-20}
out="$BUILD/fuzz"
mkdir -p "$out"
srcs=$(ls src/*.c src/bench/*.c probes/*.c images/*.c 2>/dev/null | grep -v -e '^src/main.c$')
flags="-std=c11 -D_GNU_SOURCE -pthread -g -O1 -I. -Isrc -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(pkg-config --cflags libusb-1.0 libserialport unicorn)"
libs="$(pkg-config --libs libusb-1.0 libserialport unicorn ncursesw) -lm"
pass=0 fail=0
for f in tests/fuzz/fuzz_*.c; do
	[ -f "$f" ] || continue
	name=$(basename "$f" .c)
	# shellcheck disable=SC2086
	if ! clang $flags -o "$out/$name" "$f" $srcs $libs 2>"$out/$name.build.log"; then
		echo "FAIL build $name"; tail -n 20 "$out/$name.build.log"; fail=$((fail + 1)); continue
	fi
	corpus="$out/corpus-$name"
	mkdir -p "$corpus"
	seeds="tests/fuzz/corpus/$name"
	[ -d "$seeds" ] || seeds=""
	if "$out/$name" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$out/$name-" "$corpus" $seeds >"$out/$name.log" 2>&1; then
		pass=$((pass + 1)); echo "ok   $name ($(grep -c . "$out/$name.log") log lines, $SECS s)"
	else
		fail=$((fail + 1)); echo "FAIL $name"; tail -n 30 "$out/$name.log"
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" = 0 ]
