#!/usr/bin/env bash
# uplink_release_durable.sh - when the server confirms a chunk, the uplink
# removes its frames from the spool and then stores the new offset. The
# removals must be on disk before the offset is: else a power cut can
# bring the frames back (a folder's entries reach the disk with an fsync
# of that folder; ext4's journal happens to order them, f2fs and btrfs do
# not) while the stored offset counts them as sent, and the next scan
# sends them again as new frames. A real power cut cannot be made here;
# the order of the system calls is what makes it safe, so strace records
# it: after the last removal of a confirmation, the spool folder is
# fsynced before the progress file is renamed into place.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_shared
need_uplink
need_tus_server
command -v strace >/dev/null 2>&1 || skip "strace not installed (needed to record the order of syscalls)"

tus_start_enrolled "$T/store" "$T/state"
mapfile -t ALL < <(first_frames 10)
drop_frames "$T/spool" "$T/src" "${ALL[@]}"
: >"$T/spool/study.end"
RC=0
timeout 120 strace -f -qq -y -o "$T/trace" -e trace=unlink,unlinkat,fsync,rename,renameat,renameat2 \
    "$UPLINK" run --state "$T/state" --spool "$T/spool" --status-file "$T/status.json" \
    --chunk-bytes 200K --backoff-min-ms 100 --backoff-max-ms 400 >"$T/o" 2>"$T/e" || RC=$?
[ "$RC" -eq 0 ] || fail "the uplink exited $RC: $(cat "$T/e")"
status_is "$T/status.json" finished || fail "not finished: $(cat "$T/status.json")"
[ "$(find "$T/spool" -name '*.jpg' | wc -l)" -eq 0 ] || fail "frames left in the spool"

python3 - "$T/trace" "$T/spool" "$T/state" <<'PY' || fail "a confirmed offset was stored before its frames' removal was durable"
import os, re, sys
trace, spool, state = sys.argv[1], os.path.realpath(sys.argv[2]), os.path.realpath(sys.argv[3])
pending = 0  # frames removed since the spool folder was last fsynced
stores = removals = 0
for line in open(trace):
    if re.search(r'\bunlink(at)?\(.*"' + re.escape(spool) + r'/[^"]*\.jpe?g"', line) and " = 0" in line:
        pending += 1
        removals += 1
    elif re.search(r'\bfsync\(\d+<' + re.escape(spool) + r'>\)', line):
        pending = 0
    elif re.search(r'\brename(at2?)?\(.*"' + re.escape(state) + r'/progress"', line):
        stores += 1
        assert pending == 0, f"progress stored with {pending} removals not yet fsynced: {line.strip()}"
assert removals == 10, f"{removals} frames removed from the spool, want 10"
assert stores >= 2, f"{stores} progress stores seen"
print(f"{removals} removals, {stores} progress stores, each after the spool folder's fsync")
PY
ok "the spool folder is fsynced after frames are released and before the offset is stored"

cs_finish
