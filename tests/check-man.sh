#!/bin/sh
# The man page must lint clean, and --help and the page must name the same
# options and subcommands, both ways.
set -u
BUILD=${BUILD:-build}
bin="$BUILD/vesc-rescue"
page=man/vesc-rescue.1
fail=0
if ! mandoc -Tlint -Wwarning "$page"; then
	echo "mandoc lint: warnings in $page"; fail=1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" --help | grep -o -e '--[a-z][a-z-]*' | sort -u >"$tmp/help"
grep -o 'Fl \\-[a-z][a-z-]*' "$page" | sed 's/Fl \\-/--/' | sort -u >"$tmp/man"
missing_in_man=$(comm -23 "$tmp/help" "$tmp/man")
missing_in_help=$(comm -13 "$tmp/help" "$tmp/man")
[ -z "$missing_in_man" ] || { echo "in --help but not in the man page:" $missing_in_man; fail=1; }
[ -z "$missing_in_help" ] || { echo "in the man page but not in --help:" $missing_in_help; fail=1; }
for cmd in probe survey backup recover erase write verify restore images; do
	"$bin" --help | grep -q " $cmd" || { echo "--help lacks subcommand $cmd"; fail=1; }
	grep -q "^\.Cm $cmd" "$page" || grep -q "^\.It Cm $cmd" "$page" || { echo "man page lacks subcommand $cmd"; fail=1; }
done
# Every exit status of the contract is documented.
for code in 0 2 3 4 5 6 7 8 9 10 70; do
	grep -q "^\.It $code\$" "$page" || { echo "man page: exit status $code undocumented"; fail=1; }
done
if [ $fail = 0 ]; then echo "man page: 1 passed, 0 failed"; else echo "man page: 0 passed, 1 failed"; fi
exit $fail
