#!/usr/bin/env bash
# backup.sh - back up a capscreen instance: its metadata store and its
# study files, into a new folder with a checksum manifest. Safe while the
# server runs (docs/deploy.md, "Backups").
#
#   backup.sh --config /etc/capscreen/capscreen.conf --out DIR
#   backup.sh --data DATA [--db postgresql://...] --out DIR
#
# The data folder and store are found as `capscreen serve` finds them
# (flags, then CAPSCREEN_DATA / CAPSCREEN_DB, then the config file:
# --config or CAPSCREEN_CONFIG). DIR must not exist nor lie inside the
# data folder; it is private to the user running this (umask 077: it
# holds patient data) and receives:
#   db.dump          pg_dump -Fc of the PostgreSQL store (with --db), or
#   capscreen.db     a consistent copy of the SQLite store (without)
#   files/           everything else in the data folder (uploads/: the
#                    study streams the frames are read from), symbolic
#                    links followed (an uploads/ linked onto another disk
#                    is backed up as files); not thumbs/ (a cache the
#                    server remakes) nor lost+found/ (the filesystem's)
#   MANIFEST.sha256  sha256sum of every file above (restore.sh checks it)
#   backup.json      when, from where, which store
#
# Order matters: the store is dumped first, the files copied after. Study
# files only grow (tus appends), so every offset the dump records is
# covered by the copied bytes; a byte that arrived after the dump is kept
# and the server reconciles it after a restore, as after a crash. A file
# that grows while it is copied is kept at the size it had when tar
# opened it, still at least what the dump recorded (so tar's "file
# changed as we read it" is expected, not a failure).
#
# Needs pg_dump (postgresql-client) for PostgreSQL, python3 for SQLite.
# Exit status: 0 done, 1 failed (the reason on stderr, the partial folder
# removed), 2 bad usage.
set -euo pipefail
umask 077

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
    exit 2
}
die() {
    echo "backup: $*" >&2
    exit 1
}

CONFIG= OUT=
unset DATA DB  # set only by their flag (store-location.sh)
while [ $# -gt 0 ]; do
    case $1 in
        --config) CONFIG=${2:?--config needs a file}; shift 2 ;;
        --data) DATA=${2:?--data needs a folder}; shift 2 ;;
        --db) DB=${2?--db needs a URL}; shift 2 ;;
        --out) OUT=${2:?--out needs a folder}; shift 2 ;;
        -h|--help) usage ;;
        *) echo "backup: unknown argument '$1'" >&2; usage ;;
    esac
done

. "$(dirname "$(readlink -f "$0")")/store-location.sh"
resolve_store_location
[ -n "$OUT" ] || die "no --out folder"
[ -d "$DATA" ] || die "data folder $DATA does not exist"
[ -e "$OUT" ] && die "$OUT exists already: a backup goes into a new folder"
# Inside the data folder the backup would copy itself.
case $(realpath -m -- "$OUT")/ in
    "$(realpath -m -- "$DATA")"/*) die "$OUT lies inside the data folder $DATA: put the backup elsewhere" ;;
esac
case $DB in
    ''|postgresql://*|postgres://*) ;;
    *) die "db must be a postgresql:// URL or empty (SQLite), got '$DB'" ;;
esac

mkdir -p -- "$(dirname -- "$OUT")"
mkdir -- "$OUT" || die "cannot make $OUT"
mkdir "$OUT/files"
# However this ends short of done (die, set -e, a signal), the partial
# folder goes, so a rerun with the same --out is not refused.
DONE=
trap '[ -n "$DONE" ] || rm -rf -- "$OUT"' EXIT
trap 'exit 1' INT TERM

# 1. The store.
if [ -n "$DB" ]; then
    command -v pg_dump >/dev/null || die "pg_dump not found (install postgresql-client)"
    pg_dump --format=custom --no-owner --no-acl --file="$OUT/db.dump" --dbname="$DB" \
        || die "pg_dump failed"
    STORE=postgresql
else
    [ -f "$DATA/capscreen.db" ] || die "no $DATA/capscreen.db (and no --db): nothing to back up"
    # SQLite's online backup: a consistent copy while the server writes.
    python3 - "$DATA/capscreen.db" "$OUT/capscreen.db" <<'PY' || die "SQLite backup failed"
import sqlite3, sys
src = sqlite3.connect(sys.argv[1], timeout=30)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close(); src.close()
PY
    STORE=sqlite
fi

# 2. The study files (everything in the data folder but SQLite's own, the
# thumbnail cache and lost+found), links followed (-h). The server writes
# while this reads: the reading tar exits 1 for a file that changed or
# went while read (fine, see above), 2 for a real failure.
# A file that shrank is another matter: tar pads it with zeros, and a
# restore would take those zeros for stream bytes the server had stored
# (an upload cut back after a failed checksum, as it was read); the
# backup is refused and can simply be run again.
TARERR=$(mktemp)
trap '[ -n "$DONE" ] || rm -rf -- "$OUT"; rm -f -- "$TARERR"' EXIT
{ LC_ALL=C tar -C "$DATA" --exclude=./capscreen.db --exclude=./capscreen.db-wal \
    --exclude=./capscreen.db-shm --exclude=./thumbs --exclude=./lost+found \
    --warning=no-file-changed --warning=no-file-removed -h -cf - . 2>"$TARERR" ||
    [ $? -eq 1 ]; } |
    tar -C "$OUT/files" --no-same-permissions -xf - ||
    { cat "$TARERR" >&2; die "copying the study files failed"; }
if grep -q 'shrank' "$TARERR"; then
    cat "$TARERR" >&2
    die "a study file shrank while it was copied (an upload cut back as it was read): run the backup again"
fi
cat "$TARERR" >&2

# 3. The manifest and a note of what this is.
(cd "$OUT" && find . -type f ! -name MANIFEST.sha256 -print0 | sort -z |
    xargs -0 -r sha256sum >MANIFEST.sha256) || die "writing the manifest failed"
NFILES=$(wc -l <"$OUT/MANIFEST.sha256")
printf '{"created": "%s", "store": "%s", "data": "%s", "files": %s}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$STORE" "$DATA" "$NFILES" >"$OUT/backup.json"
DONE=1
echo "{\"backup\": \"$OUT\", \"store\": \"$STORE\", \"files\": $NFILES}"
