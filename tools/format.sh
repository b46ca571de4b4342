#!/usr/bin/env bash
# Format every tracked C file with the project's .clang-format (clang-format
# from Debian 12, version 14), or with --check only report the files that
# differ (exit 1). scripts/run-tests.sh runs the check.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
command -v clang-format >/dev/null || { echo "format: clang-format is not installed" >&2; exit 2; }
mapfile -t files < <(git ls-files '*.c' '*.h')
if [ "${1:-}" = --check ]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format --style=file --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if [ ${#bad[@]} -gt 0 ]; then
    echo "format: ${#bad[@]} file(s) differ from .clang-format (run tools/format.sh):"
    printf '  %s\n' "${bad[@]}"
    exit 1
  fi
  echo "format: ${#files[@]} C files match .clang-format"
  exit 0
fi
clang-format --style=file -i "${files[@]}"
echo "format: ${#files[@]} C files formatted"
