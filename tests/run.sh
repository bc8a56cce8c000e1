#!/bin/sh
# Runs every test binary: unit tests and end-to-end tests (with the
# capture-client of the same build) from the sanitized build (ASan+UBSan);
# optionally the end-to-end tests of a second, optimized build as well.
#
#   tests/run.sh SANITIZED_BUILD_DIR [OPTIMIZED_BUILD_DIR]
set -u
san=${1:?usage: tests/run.sh SANITIZED_BUILD_DIR [OPTIMIZED_BUILD_DIR]}
opt=${2:-}
passed=0
failed=0
failures=""

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run() {
	name=$1
	shift
	echo "== $name"
	if "$@"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures="$failures $name"
	fi
}

if [ "$(id -u)" -ne 0 ]; then
	echo "tests/run.sh: the end-to-end tests need root (kernel sensor, cgroups)" >&2
fi

for t in "$san"/tests/unit/test_*; do
	[ -x "$t" ] || continue
	run "unit/$(basename "$t")" "$t"
done
for t in "$san"/tests/e2e/test_*; do
	[ -x "$t" ] || continue
	run "e2e/$(basename "$t") (sanitized)" "$t"
done
if [ -n "$opt" ]; then
	for t in "$opt"/tests/e2e/test_*; do
		[ -x "$t" ] || continue
		run "e2e/$(basename "$t") (optimized)" "$t"
	done
fi

echo
echo "test binaries: $passed passed, $failed failed${failures:+ (failed:$failures)}"
[ "$failed" -eq 0 ]
