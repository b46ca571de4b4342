#!/usr/bin/env bash
# cli_video.sh - `capscreen analyze VIDEO` through FFmpeg: an MP4 (H.264) and
# an AVI (MJPEG), both made here with ffmpeg's lavfi test source.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_ffmpeg
need_python

make_video() { # make_video OUT ffmpeg-codec-options...
    local out=$1
    shift
    ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=320x240:rate=10 -frames:v 40 "$@" "$out" \
        || skip "ffmpeg could not encode $(basename "$out") ($*)"
}
make_video "$T/clip.mp4" -c:v libx264 -pix_fmt yuv420p -g 10
make_video "$T/clip.avi" -c:v mjpeg -q:v 3
make_video "$T/clip.mkv" -c:v libx264 -pix_fmt yuv420p

for v in clip.mp4 clip.avi; do
    run_cs "$T/$v.json" "$T/e" analyze "$T/$v"
    [ "$RC" -eq 0 ] || fail "analyze $v exited $RC: $(cat "$T/e")"
    [ -s "$T/e" ] && fail "analyze $v wrote to stderr: $(cat "$T/e")"
    py_check "$T/$v.json" <<'EOF' || fail "$v: summary checks failed"
fr, c = d["frames"], d["counts"]
if d["source"]["type"] != "video":
    fail("source.type %r, expected 'video'" % d["source"]["type"])
if (c["frames"], c["analysed"], c["failed"]) != (40, 40, 0):
    fail("counts %r, expected 40 frames all analysed" % c)
if d["errors"]:
    fail("errors: %r" % d["errors"])
if [f.get("frame_index") for f in fr] != list(range(40)):
    fail("frame_index not 0..39: %r" % [f.get("frame_index") for f in fr])
if any((f.get("width"), f.get("height")) != (320, 240) for f in fr):
    fail("frame sizes are not all 320x240")
t = [f.get("capture_time_us") for f in fr]
# 10 frames/s from time 0: 100 ms apart (within a millisecond of rounding).
if any(x is None or abs(x - i * 100000) > 1000 for i, x in enumerate(t)):
    fail("capture_time_us not 0, 100000, 200000, ...: %r" % t)
EOF
    ok "$v: video, 40 frames analysed, no errors"
done

# An MKV cut inside its first Cluster, before its first frame, opens but
# holds no frame: exit 1 with a reason that says so, not "none of its 0
# frames could be analysed (reasons in the summary)" with no reasons there.
python3 - "$T/clip.mkv" "$T/noframes.mkv" <<'EOF'
import sys
b = open(sys.argv[1], "rb").read()
i = b.find(b"\x1f\x43\xb6\x75")  # Matroska Cluster element ID
if i < 0:
    sys.exit("no Cluster in the MKV")
open(sys.argv[2], "wb").write(b[:i + 12])  # the Cluster begun, no frame
EOF
run_cs "$T/noframes.json" "$T/e" analyze "$T/noframes.mkv"
[ "$RC" -eq 1 ] || fail "analyze of a video with no frame exited $RC, expected 1"
expect_one_line "$T/e" "video with no frame" || true
grep -q "no frame at all" "$T/e" || fail "video with no frame: unclear reason: $(cat "$T/e")"
ok "a video with no frame -> exit 1, 'holds no frame at all'"

cs_finish
