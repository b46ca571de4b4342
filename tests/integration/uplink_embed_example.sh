#!/usr/bin/env bash
# uplink_embed_example.sh - docs/examples/uplink_embed.c, the embedding
# example of docs/uplink.md, compiles against libcsuplink alone (plus
# libcurl and pthreads) with -Werror, and uploads 12 frames: the server's
# upload holds them in order, payloads byte for byte.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_uplink
need_tus_server
: "${CS_SOURCE_DIR:?}" "${CS_BUILD_DIR:?}"
[ -f "$CS_BUILD_DIR/libcsuplink.a" ] || die "libcsuplink.a not in $CS_BUILD_DIR"
command -v cc >/dev/null 2>&1 || skip "no C compiler"

flags=()
grep -q '^CS_SANITIZE:BOOL=ON' "$CS_BUILD_DIR/CMakeCache.txt" 2>/dev/null &&
    flags=(-fsanitize=address,undefined)
cc -std=c11 -Wall -Wextra -Werror "${flags[@]}" -I "$CS_SOURCE_DIR/include" \
    "$CS_SOURCE_DIR/docs/examples/uplink_embed.c" -L "$CS_BUILD_DIR" -lcsuplink \
    $(pkg-config --libs libcurl) -lpthread -o "$T/uplink_embed" 2>"$T/cc.err" ||
    die "the example does not compile: $(head -5 "$T/cc.err")"
ok "docs/examples/uplink_embed.c compiles with -Werror against -lcsuplink -lcurl"

tus_start_enrolled "$T/store" "$T/state"
mkdir -p "$T/frames" "$T/spool"
mapfile -t FRAMES < <(first_frames 12)
cp "${FRAMES[@]}" "$T/frames/"
RC=0
timeout 120 "$T/uplink_embed" "$T/state" "$T/spool" "$T/frames" >"$T/out" 2>"$T/err" || RC=$?
[ "$RC" -eq 0 ] || die "the example exited $RC: $(tail -3 "$T/err")"
grep -q "^uplink: finished" "$T/out" || fail "the example never reported finished: $(tail -3 "$T/out")"
id=$(ls "$T/store" | grep -v '\.json$')
python3 - "$T/store/$id" "$T/frames" <<'PYEOF' || fail "the upload does not hold the 12 frames in order"
import os, struct, sys
b = open(sys.argv[1], "rb").read()
names = sorted(os.listdir(sys.argv[2]))
pos, = struct.unpack_from("<H", b, 6)
got = []
while pos < len(b):
    rh, = struct.unpack_from("<H", b, pos + 4)
    idx, = struct.unpack_from("<Q", b, pos + 8)
    pl, = struct.unpack_from("<I", b, pos + 24)
    got.append((idx, b[pos + rh:pos + rh + pl]))
    pos += rh + pl + 4
want = [(i, open(os.path.join(sys.argv[2], n), "rb").read()) for i, n in enumerate(names)]
if got != want:
    sys.exit("records %r differ from the frames" % [g[0] for g in got])
PYEOF
ok "the example uploads 12 frames in order, payloads intact"

cs_finish
