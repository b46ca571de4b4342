#!/usr/bin/env bash
# server_api_docs.sh - every ```sh api-example block in docs/api.md runs,
# in order and in one shell (variables carry over), against a live server,
# and its last request returns the status its "# expect: CODE" line says.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
need_curl
command -v jq >/dev/null 2>&1 || skip "jq not installed"
command -v openssl >/dev/null 2>&1 || skip "openssl not installed"

DOC=${CS_SOURCE_DIR:?}/docs/api.md
[ -f "$DOC" ] || die "no $DOC"
start_server "$T/data"

# Extract the blocks: one file per block, its expected code in a side file.
python3 - "$DOC" "$T/ex" <<'EOF2'
import os, re, sys
text = open(sys.argv[1]).read()
os.makedirs(sys.argv[2])
blocks = re.findall(r"```sh api-example\n(.*?)```", text, re.S)
if not blocks:
    sys.exit("no api-example blocks")
for i, b in enumerate(blocks):
    m = re.search(r"^# expect: (\d+)$", b, re.M)
    if not m:
        sys.exit("block %d has no '# expect: CODE' line" % (i + 1))
    open(os.path.join(sys.argv[2], "%03d.sh" % i), "w").write(b)
    open(os.path.join(sys.argv[2], "%03d.code" % i), "w").write(m.group(1))
EOF2

# One shell runs every block; curl is wrapped to record each status.
{
    echo 'set -u'
    echo "URL='$SRV_URL' ADMIN='$ADMIN_TOKEN'"
    echo "cd '$T'"
    echo "curl() { command curl -w '\n%{http_code}\n' \"\$@\" | tee '$T/last.out' | sed '\$d'; tail -n 1 '$T/last.out' > '$T/last.code'; }"
    for b in "$T"/ex/*.sh; do
        n=$(basename "$b" .sh)
        echo "echo '--- example $n' >&2"
        cat "$b"
        echo "cp '$T/last.code' '$T/ex/$n.got'"
    done
} >"$T/all.sh"
bash "$T/all.sh" >"$T/all.out" 2>&1 || true

N=0
for c in "$T"/ex/*.code; do
    n=$(basename "$c" .code)
    N=$((N + 1))
    want=$(cat "$c")
    got=$(cat "$T/ex/$n.got" 2>/dev/null || echo none)
    [ "$want" = "$got" ] || fail "docs/api.md example $((10#$n + 1)): expected HTTP $want, got $got:
$(sed 's/^/    | /' "$T/ex/$n.sh")"
done
[ "$CS_FAILURES" -eq 0 ] || sed 's/^/    > /' "$T/all.out" | tail -40 >&2
ok "all $N docs/api.md examples return their documented status"
cs_finish
