#!/bin/sh
# Builds every tests/fuzz/fuzz_*.c with libFuzzer + ASan + UBSan against an
# archive of the engine's sources (built with the same flags, so a harness
# pulls in only what it uses) and runs each for FUZZ_SECONDS, seeded from
# tests/fuzz/corpus/<name>/. A crash fails the run and leaves its input.
set -u
BUILD=${BUILD:-build}
SECS=${FUZZ_SECONDS:-20}
out="$BUILD/fuzz"
mkdir -p "$out/obj"
pkgs="libusb-1.0 libserialport unicorn ncursesw"
cflags="-std=c11 -D_GNU_SOURCE -pthread -g -O1 -I. -Isrc -fno-omit-frame-pointer $(pkg-config --cflags $pkgs)"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
libs="$(pkg-config --libs $pkgs) -lm -pthread"

objs=""
for src in $(ls src/*.c src/bench/*.c src/bench/facade/facade_chip.c probes/*.c images/*.c ui/*.c 2>/dev/null | grep -v '^src/main.c$'); do
	obj="$out/obj/$(echo "$src" | tr / _).o"
	if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
		# shellcheck disable=SC2086
		clang $cflags $san -fsanitize=fuzzer-no-link -c "$src" -o "$obj" 2>"$obj.log" ||
			{ echo "FAIL build $src"; cat "$obj.log"; exit 1; }
	fi
	objs="$objs $obj"
done
rm -f "$out/libvr-fuzz.a"
# shellcheck disable=SC2086
ar rcs "$out/libvr-fuzz.a" $objs

pass=0 fail=0
for f in tests/fuzz/fuzz_*.c; do
	[ -f "$f" ] || continue
	name=$(basename "$f" .c)
	# shellcheck disable=SC2086
	if ! clang $cflags $san -fsanitize=fuzzer -o "$out/$name" "$f" "$out/libvr-fuzz.a" $libs \
		2>"$out/$name.build.log"; then
		echo "FAIL build $name"; tail -n 20 "$out/$name.build.log"; fail=$((fail + 1)); continue
	fi
	corpus="$out/corpus-$name"
	mkdir -p "$corpus"
	seeds="tests/fuzz/corpus/$name"
	[ -d "$seeds" ] || seeds=""
	# shellcheck disable=SC2086
	if "$out/$name" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$out/$name-" "$corpus" $seeds >"$out/$name.log" 2>&1; then
		pass=$((pass + 1))
		echo "ok   $name: $(grep -o 'Done [0-9]* runs' "$out/$name.log" | tail -n 1) in $SECS s"
	else
		fail=$((fail + 1)); echo "FAIL $name"; tail -n 30 "$out/$name.log"
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" = 0 ]
