#!/usr/bin/env bash
# The README's test command (and what .ci/run calls): installs what is
# missing, then runs every test:
#   1. release build with -Werror: unit + integration tests (ctest)
#   2. ASan/UBSan build: unit tests
#   3. valgrind on the unit tests (memcheck, definite leaks are errors)
#   4. libFuzzer targets, CS_FUZZ_SECONDS each (default 30)
# Each stage prints ctest's or its own summary; the last line is the total.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
fuzz_seconds=${CS_FUZZ_SECONDS:-30}
"$root/scripts/install-deps.sh"

passed=0 failed=0 skipped=0
count() { # stage-name, exit status
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "stage $1: ok";
  else failed=$((failed + 1)); echo "stage $1: FAILED"; fi
}

echo "== 1. build (-Werror) + unit and integration tests"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCS_WERROR=ON >/dev/null
cmake --build "$root/build" -j"$jobs"
set +e
(cd "$root/build" && ctest --output-on-failure -j"$jobs")
count ctest $?
set -e

echo "== 2. ASan/UBSan build + unit tests"
cmake -S "$root" -B "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DCS_SANITIZE=ON >/dev/null
cmake --build "$root/build-asan" -j"$jobs"
set +e
(cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1 ctest -L unit --output-on-failure -j"$jobs")
count sanitizers $?
set -e

echo "== 3. valgrind on the unit tests"
set +e
vg_status=0
for t in "$root"/build/tests/test_*; do
  name=$(basename "$t")
  # The robustness test decodes the whole data set twice: minutes under
  # valgrind, and it runs the same code paths as test_engine.
  [ "$name" = test_robustness ] && continue
  (cd "$root/build/tests" && CS_SOURCE_DIR="$root" CS_SHARED_DIR="${CS_SHARED_DIR:-$root/../shared}" \
     valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
     "$t" >/tmp/cs-valgrind-$name.log 2>&1)
  rc=$?
  if [ $rc -eq 0 ] || [ $rc -eq 77 ]; then echo "valgrind $name: ok"; else
    echo "valgrind $name: FAILED (exit $rc)"; tail -30 /tmp/cs-valgrind-$name.log; vg_status=1; fi
done
count valgrind $vg_status
set -e

echo "== 4. fuzzing, ${fuzz_seconds}s per target"
cmake -S "$root" -B "$root/build-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCS_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build "$root/build-fuzz" -j"$jobs"
set +e
fz_status=0
for f in "$root"/build-fuzz/tests/fuzz_*; do
  name=$(basename "$f"); corpus=$(mktemp -d)
  seeds="$root/tests/fuzz/corpus/${name#fuzz_}"
  [ -d "$seeds" ] && cp "$seeds"/* "$corpus"/
  "$f" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -print_final_stats=1 "$corpus" \
    >/tmp/cs-$name.log 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then echo "fuzz $name: ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' /tmp/cs-$name.log | grep -o '[0-9]*$') runs)";
  else echo "fuzz $name: FAILED"; tail -40 /tmp/cs-$name.log; fz_status=1; fi
  rm -rf "$corpus"
done
count fuzz $fz_status
set -e

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
