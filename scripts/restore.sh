#!/usr/bin/env bash
# restore.sh - restore a backup made by backup.sh into an EMPTY instance:
# a data folder that is missing or empty (but for a filesystem's
# lost+found) and, for a PostgreSQL backup, a database without
# capscreen's tables. Run it with the servers stopped, as the service
# user; start them after (they migrate a backup of an older schema on
# start). Run as root, it gives what it restores the owner of the data
# folder, so the server can write there.
#
#   restore.sh --backup DIR --config /etc/capscreen/capscreen.conf
#   restore.sh --backup DIR --data DATA [--db postgresql://...]
#
# The data folder and store are found as `capscreen serve` finds them
# (flags, then CAPSCREEN_DATA / CAPSCREEN_DB, then the config file).
#
# Steps: the backup's MANIFEST.sha256 is checked first (a damaged backup
# is refused before anything is written, the failing files named); the
# files (and a SQLite store) are copied and checked again against the
# manifest in their new place, so the restored study files are
# byte-identical to the backed-up ones; a PostgreSQL store is restored
# last (pg_restore in one transaction), so a failure anywhere leaves the
# database as it was and the same command can be run again.
#
# Exit status: 0 restored, 1 refused or failed (the reason on stderr;
# nothing is left half-restored in the data folder), 2 bad usage.
set -euo pipefail
umask 077  # patient data

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
    exit 2
}
die() {
    echo "restore: $*" >&2
    exit 1
}

CONFIG= BACKUP=
unset DATA DB  # set only by their flag (store-location.sh)
while [ $# -gt 0 ]; do
    case $1 in
        --backup) BACKUP=${2:?--backup needs a folder}; shift 2 ;;
        --config) CONFIG=${2:?--config needs a file}; shift 2 ;;
        --data) DATA=${2:?--data needs a folder}; shift 2 ;;
        --db) DB=${2?--db needs a URL}; shift 2 ;;
        -h|--help) usage ;;
        *) echo "restore: unknown argument '$1'" >&2; usage ;;
    esac
done
. "$(dirname "$(readlink -f "$0")")/store-location.sh"
resolve_store_location
[ -n "$BACKUP" ] || die "no --backup folder"
[ -f "$BACKUP/MANIFEST.sha256" ] || die "$BACKUP has no MANIFEST.sha256: not a capscreen backup"

# 1. The backup is whole.
(cd "$BACKUP" && sha256sum --quiet --strict -c MANIFEST.sha256) >&2 \
    || die "$BACKUP does not match its MANIFEST.sha256 (damaged or altered); nothing restored"

# 2. The target is empty, and of the backup's kind.
if [ -f "$BACKUP/db.dump" ]; then
    [ -n "$DB" ] || die "this is a PostgreSQL backup: give --db postgresql://... (an empty database)"
elif [ -f "$BACKUP/capscreen.db" ]; then
    [ -z "$DB" ] || die "this is a SQLite backup: restore it without --db"
else
    die "$BACKUP holds neither db.dump nor capscreen.db"
fi
# lost+found: a data folder that is the root of its own filesystem.
if [ -e "$DATA" ] && [ -n "$(ls -A "$DATA" | grep -vx 'lost+found')" ]; then
    die "data folder $DATA is not empty: restore into an empty instance"
fi
if [ -n "$DB" ]; then
    command -v pg_restore >/dev/null || die "pg_restore not found (install postgresql-client)"
    TABLES=$(psql -X -A -t -q -d "$DB" -c "SELECT count(*) FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_name IN ('schema_version', 'studies')") \
        || die "cannot query the target database"
    [ "$TABLES" = 0 ] || die "the target database holds capscreen tables already: restore into an empty one"
fi

CREATED=
if [ ! -e "$DATA" ]; then
    mkdir -p "$DATA"
    CREATED=$DATA
fi
cleanup_data() {
    # Leave no half-restored folder behind (only what this run wrote).
    find "$DATA" -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {} + 2>/dev/null || true
    [ -n "$CREATED" ] && rmdir "$DATA" 2>/dev/null || true
}
# However this ends short of done (die, set -e, a signal), the data
# folder is emptied again.
DONE=
trap '[ -n "$DONE" ] || cleanup_data' EXIT
trap 'exit 1' INT TERM

# 3. The files (and a SQLite store), checked again where they now lie.
# --no-overwrite-dir: the data folder keeps its own owner and mode;
# --no-same-permissions: private (umask) even as root, from any backup.
tar -C "$BACKUP/files" -cf - . | tar -C "$DATA" --no-overwrite-dir --no-same-permissions -xf - ||
    die "copying the files into $DATA failed (no space?); nothing restored"
chmod 0750 "$DATA"  # after tar: --no-same-permissions masks even an existing folder's mode
if [ -f "$BACKUP/capscreen.db" ]; then
    cp "$BACKUP/capscreen.db" "$DATA/capscreen.db" ||
        die "copying the SQLite store into $DATA failed; nothing restored"
fi
FILES=$(grep ' \./files/' "$BACKUP/MANIFEST.sha256" | sed 's# \./files/# ./#' || true)
# sha256sum -c refuses an empty list: a backup without study files.
if [ -n "$FILES" ] &&
    ! (cd "$DATA" && sha256sum --quiet --strict -c - <<<"$FILES") >&2; then
    die "the restored files do not match the backup's manifest (above); nothing restored"
fi
if [ -f "$BACKUP/capscreen.db" ] &&
    [ "$(sha256sum <"$DATA/capscreen.db")" != "$(sha256sum <"$BACKUP/capscreen.db")" ]; then
    die "the restored SQLite store does not match the backup; nothing restored"
fi
# Run as root: what was restored gets the data folder's owner (the
# service user's), or the server could not write its own store.
if [ "$(id -u)" = 0 ]; then
    find "$DATA" -mindepth 1 -maxdepth 1 ! -name lost+found \
        -exec chown -R --reference="$DATA" -- {} + ||
        die "giving the restored files the owner of $DATA failed; nothing restored"
fi

# 4. A PostgreSQL store, last: one transaction, so a failure leaves the
# database unchanged.
if [ -n "$DB" ]; then
    pg_restore --no-owner --no-acl --exit-on-error --single-transaction --dbname="$DB" \
        "$BACKUP/db.dump" || die "pg_restore failed; the database is unchanged, nothing restored"
fi
DONE=1
NFILES=$(grep -c ' \./files/' "$BACKUP/MANIFEST.sha256" || true)
echo "{\"restored\": \"$DATA\", \"store\": \"$([ -n "$DB" ] && echo postgresql || echo sqlite)\", \"files\": $NFILES}"
