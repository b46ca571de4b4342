#!/usr/bin/env bash
# Install the Debian 12 packages capscreen needs (scripts/apt-packages.txt).
# Used by scripts/run-demo.sh, scripts/run-tests.sh and so by .ci/run.
# Skips apt entirely when everything is already installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t pkgs < <(grep -v '^\s*#' "$here/apt-packages.txt" | grep -v '^\s*$')

missing=()
for p in "${pkgs[@]}"; do
  # not `| grep -q`: under pipefail an early exit of grep can fail the pipe
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == *"ok installed"* ]] || missing+=("$p")
done
# Node.js and npm run the independent tus client in the tests. Machines
# that already have a Node.js with its bundled npm (e.g. from NodeSource)
# keep it: Debian's npm package conflicts with that nodejs.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
# playwright-core (the browser test) needs Node.js >= 20; Debian 12 ships
# 18. Then Node.js 22 comes from the npm registry's official binary package
# (node-linux-<arch>), installed globally: /usr/local/bin/node is ahead of
# /usr/bin/node on PATH. The browser test then runs; it never skips for it.
ensure_node20() {
  [ "$(node_major)" -ge 20 ] && return 0
  local arch
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  echo "install-deps: node $(node --version) < 20: installing node-linux-$arch@22 from npm"
  npm install -g --no-audit --no-fund "node-linux-$arch@22" >/dev/null
  hash -r
  [ "$(node_major)" -ge 20 ] || { echo "install-deps: still no Node.js >= 20 on PATH" >&2; exit 1; }
}
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  [ "$(node_major)" -ge 20 ] || { [ "$(id -u)" -eq 0 ] && ensure_node20; }
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
ensure_node20
echo "install-deps: done"
