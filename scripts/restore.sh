#!/usr/bin/env bash
# restore.sh - restore a backup made by backup.sh into an EMPTY instance:
# a data folder that is missing or empty and, for a PostgreSQL backup, a
# database without capscreen's tables. Run it with the servers stopped;
# start them after (they migrate a backup of an older schema on start).
#
#   restore.sh --backup DIR --config /etc/capscreen/capscreen.conf
#   restore.sh --backup DIR --data DATA [--db postgresql://...]
#
# Steps: the backup's MANIFEST.sha256 is checked first (a damaged backup
# is refused before anything is written); the store is restored
# (pg_restore in one transaction, or the SQLite file copied); the files
# are copied and checked again against the manifest in their new place,
# so the restored study files are byte-identical to the backed-up ones.
#
# Exit status: 0 restored, 1 refused or failed (the reason on stderr;
# nothing is left half-restored in a data folder this script created),
# 2 bad usage.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
    exit 2
}
die() {
    echo "restore: $*" >&2
    exit 1
}

CONFIG= DATA= DB= BACKUP=
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
[ -n "$DATA" ] || die "no data folder (--data or data = in --config)"
[ -f "$BACKUP/MANIFEST.sha256" ] || die "$BACKUP has no MANIFEST.sha256: not a capscreen backup"

# 1. The backup is whole.
(cd "$BACKUP" && sha256sum --quiet --strict -c MANIFEST.sha256) >/dev/null 2>&1 \
    || die "$BACKUP does not match its MANIFEST.sha256 (damaged or altered); nothing restored"

# 2. The target is empty, and of the backup's kind.
if [ -f "$BACKUP/db.dump" ]; then
    [ -n "$DB" ] || die "this is a PostgreSQL backup: give --db postgresql://... (an empty database)"
elif [ -f "$BACKUP/capscreen.db" ]; then
    [ -z "$DB" ] || die "this is a SQLite backup: restore it without --db"
else
    die "$BACKUP holds neither db.dump nor capscreen.db"
fi
if [ -e "$DATA" ] && [ -n "$(ls -A "$DATA")" ]; then
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
chmod 0750 "$DATA"
cleanup_data() {
    # Leave no half-restored folder behind (only what this run wrote).
    find "$DATA" -mindepth 1 -delete 2>/dev/null || true
    [ -n "$CREATED" ] && rmdir "$DATA" 2>/dev/null || true
}
trap 'cleanup_data' ERR
trap 'cleanup_data; exit 1' INT TERM

# 3. The store.
if [ -n "$DB" ]; then
    pg_restore --no-owner --no-acl --exit-on-error --single-transaction --dbname="$DB" \
        "$BACKUP/db.dump" || { cleanup_data; die "pg_restore failed; the database is unchanged"; }
else
    cp "$BACKUP/capscreen.db" "$DATA/capscreen.db"
fi

# 4. The files, checked again where they now lie.
tar -C "$BACKUP/files" -cf - . | tar -C "$DATA" -xf -
if ! (cd "$DATA" && grep ' \./files/' "$BACKUP/MANIFEST.sha256" | sed 's# \./files/# ./#' |
    sha256sum --quiet --strict -c -) >/dev/null 2>&1; then
    cleanup_data
    die "the restored files do not match the backup's manifest"
fi
if [ -f "$BACKUP/capscreen.db" ] &&
    [ "$(sha256sum <"$DATA/capscreen.db")" != "$(sha256sum <"$BACKUP/capscreen.db")" ]; then
    cleanup_data
    die "the restored SQLite store does not match the backup"
fi
trap - ERR INT TERM
NFILES=$(grep -c ' \./files/' "$BACKUP/MANIFEST.sha256" || true)
echo "{\"restored\": \"$DATA\", \"store\": \"$([ -n "$DB" ] && echo postgresql || echo sqlite)\", \"files\": $NFILES}"
