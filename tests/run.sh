#!/bin/sh
# Runs every test binary of a build: unit tests and end-to-end tests (which
# drive the capture-client of the same build).  `make check` passes the
# sanitized build (ASan+UBSan).  Prints each runner's output, then one
# closing line counting individual tests over all binaries.
#
#   tests/run.sh BUILD_DIR [BUILD_DIR...]
set -u
[ $# -ge 1 ] || { echo "usage: tests/run.sh BUILD_DIR [BUILD_DIR...]" >&2; exit 2; }
passed=0
failed=0
bad_bins=""
log=$(mktemp)
rcfile=$(mktemp)
trap 'rm -f "$log" "$rcfile"' EXIT

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ "$(id -u)" -ne 0 ]; then
	echo "tests/run.sh: the end-to-end tests need root (kernel sensor, cgroups)" >&2
fi

run() {
	echo "== $1"
	{ "$1" 2>&1; echo $? >"$rcfile"; } | tee "$log"
	# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s), listed below:"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	# a binary that crashed, failed its group setup/teardown or exited non-zero
	# without a failed test counted still fails
	if [ -z "$p$f" ] || grep -q "ERROR: \(Address\|Leak\|Undefined\)Sanitizer" "$log" ||
		grep -q '^\[  FAILED  \] GROUP \(SETUP\|TEARDOWN\)' "$log" ||
		{ [ "$(cat "$rcfile")" != 0 ] && [ "${f:-0}" -eq 0 ]; }; then
		failed=$((failed + 1))
		bad_bins="$bad_bins $1"
	fi
}

for build in "$@"; do
	for t in "$build"/tests/unit/test_* "$build"/tests/e2e/test_*; do
		[ -x "$t" ] && run "$t"
	done
done

echo
[ -n "$bad_bins" ] && echo "binaries that crashed or reported no verdict:$bad_bins"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
