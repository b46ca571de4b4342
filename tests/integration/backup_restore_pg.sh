#!/usr/bin/env bash
# backup_restore_pg.sh - scripts/backup.sh and scripts/restore.sh against a
# real PostgreSQL (tests/lib/pg.sh): a server on PostgreSQL analyses the
# demo study; it is backed up while it runs (pg_dump plus the study files),
# restored into an empty instance (a new database, a new data folder),
# and the server started there serves every frame byte-identical, with the
# same analysis, users and report. The backup is taken while a study file
# grows and the server has thumbnails cached (it succeeds, without the
# cache), and is private. A damaged backup and a non-empty target are
# refused with nothing written; a restore that fails copying the files
# leaves the database untouched, so it can be run again; an instance
# without study files is backed up and restored.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$CS_LIB_DIR/../lib/pg.sh"
need_python
need_curl
command -v pg_dump >/dev/null || { [ "${CI:-}" = true ] && die "pg_dump not found"; skip "pg_dump not found"; }
pg_start
trap 'cs_server_cleanup; pg_stop' EXIT
PSQL=(psql -X -q -A -t)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE src" -c "CREATE DATABASE dst"
SRC=postgresql:///src DST=postgresql:///dst
BACKUP_SH=$CS_SOURCE_DIR/scripts/backup.sh
RESTORE_SH=$CS_SOURCE_DIR/scripts/restore.sh

# --- an instance on PostgreSQL with an analysed study, a user, a report ------
DEMO="$CS_SOURCE_DIR/samples/demo/frames"
NFRAMES=$(ls "$DEMO" | wc -l)
"$CAPSCREEN" pack --fps 4 "$DEMO" "$T/demo.csfs" >/dev/null 2>"$T/e" || die "pack: $(cat "$T/e")"
run_cs "$T/o" "$T/e" study import --data "$T/data" --db "$SRC" --label Demo "$T/demo.csfs"
[ "$RC" -eq 0 ] || die "study import on PostgreSQL exited $RC: $(cat "$T/e")"
STUDY=$(tail -n 1 "$T/o" | python3 -c 'import json,sys; print(json.load(sys.stdin)["study"])')
echo "pw-reader-0123456789" | "$CAPSCREEN" user add --data "$T/data" --db "$SRC" --name reader \
    --role reader >/dev/null 2>"$T/e" || die "user add: $(cat "$T/e")"
[ -z "$(ls -A "$T/data" | grep -x capscreen.db)" ] || fail "a SQLite file appeared with --db set"

start_server "$T/data" --db "$SRC"
for i in $(seq 1 600); do
    http GET "/api/v1/studies/$STUDY" -H "Authorization: Bearer $ADMIN_TOKEN"
    [ "$CODE" = 200 ] && [ "$(json_get "$T/body" 'd["progress"]["frames_analysed"]')" = "$NFRAMES" ] && break
    sleep 0.1
done
[ "$(json_get "$T/body" 'd["progress"]["frames_analysed"]')" = "$NFRAMES" ] ||
    die "the study never reached $NFRAMES analysed frames: $(cat "$T/body")"
cp "$T/body" "$T/study-before.json"

login() {
    http POST /api/v1/session -c "$T/jar" -d '{"user": "reader", "password": "pw-reader-0123456789"}'
    [ "$CODE" = 200 ] || die "login: $CODE $(cat "$T/body")"
    CSRF=$(json_get "$T/body" 'd["csrf_token"]')
}
# fetch_frames DIR: every frame's JPEG, one curl for all of them.
fetch_frames() {
    local args=() i
    mkdir -p "$1"
    for i in $(seq 0 $((NFRAMES - 1))); do
        args+=(-o "$1/$i.jpg" "$SRV_URL/api/v1/studies/$STUDY/frames/$i.jpg")
    done
    curl -sf -b "$T/jar" "${args[@]}" || fail "fetching the frames into $1 failed"
}
login
fetch_frames "$T/frames-before"
http PUT "/api/v1/studies/$STUDY/report" -b "$T/jar" -H "X-CSRF-Token: $CSRF" \
    -d '{"state": "draft", "content": {"recommendation": "colonoscopy"}}'
[ "$CODE" = 200 ] || [ "$CODE" = 201 ] || fail "saving a report: $CODE $(cat "$T/body")"
ok "a server on PostgreSQL analysed $NFRAMES frames; a user and a report exist"

# --- backup while the server runs and a study file grows ------------------------------
mkdir -p "$T/data/thumbs/$STUDY"
echo thumb >"$T/data/thumbs/$STUDY/0.jpg"
grow_file "$T/data/uploads/growing.bin"
RC=0
bash "$BACKUP_SH" --data "$T/data" --db "$SRC" --out "$T/backup" >"$T/bo" 2>"$T/be" || RC=$?
stop_growing
[ "$RC" -eq 0 ] || die "backup.sh, while a study file grew, exited $RC: $(cat "$T/be")"
[ -s "$T/backup/db.dump" ] || fail "the backup has no db.dump"
[ ! -e "$T/backup/files/thumbs" ] || fail "the thumbnail cache was backed up"
[ "$(stat -c %a "$T/backup")" = 700 ] && [ "$(stat -c %a "$T/backup/db.dump")" = 600 ] ||
    fail "the backup is not private: $(stat -c '%a %n' "$T/backup" "$T/backup/db.dump")"
grep -q ' \./files/uploads/' "$T/backup/MANIFEST.sha256" || fail "the backup holds no study file"
bash "$BACKUP_SH" --data "$T/data" --db "$SRC" --out "$T/backup" >/dev/null 2>"$T/be" &&
    fail "a second backup into the same folder was accepted"
stop_server
ok "backup.sh: pg_dump and the study files with a manifest, private, while the server ran and a file grew"

# --- refusals: a damaged backup, a non-empty target ----------------------------------
cp -a "$T/backup" "$T/damaged"
f=$(find "$T/damaged/files/uploads" -type f | head -n 1)
printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
bash "$RESTORE_SH" --backup "$T/damaged" --data "$T/data-x" --db "$DST" >/dev/null 2>"$T/re" &&
    fail "a damaged backup was restored"
grep -q MANIFEST "$T/re" || fail "the damaged backup's refusal does not name the manifest: $(cat "$T/re")"
[ ! -e "$T/data-x" ] || fail "a refused restore created the data folder"
[ "$("${PSQL[@]}" -d dst -c "SELECT to_regclass('public.studies') IS NULL")" = t ] ||
    fail "a refused restore wrote to the database"
bash "$RESTORE_SH" --backup "$T/backup" --data "$T/data" --db "$DST" >/dev/null 2>"$T/re" &&
    fail "a restore into the non-empty source data folder was accepted"
ok "restore.sh refuses a damaged backup and a non-empty data folder, writing nothing"

# --- a restore that fails copying the files: the database is left as it was -------------
# A file-size limit stands in for a full disk.
RC=0
(ulimit -f 1024; exec bash "$RESTORE_SH" --backup "$T/backup" --data "$T/data2" --db "$DST") \
    >/dev/null 2>"$T/re" || RC=$?
[ "$RC" -eq 1 ] || fail "a restore that could not copy its files exited $RC, not 1"
grep -q '^restore: ' "$T/re" || fail "no reason for the failed restore: $(cat "$T/re")"
[ ! -e "$T/data2" ] || fail "a failed restore left the data folder it made"
[ "$("${PSQL[@]}" -d dst -c "SELECT to_regclass('public.studies') IS NULL")" = t ] ||
    fail "a restore that failed copying its files left the database restored"
ok "a restore that fails copying exits 1 with a reason, the database untouched"

# --- restore into an empty instance ----------------------------------------------------
bash "$RESTORE_SH" --backup "$T/backup" --data "$T/data2" --db "$DST" >"$T/ro" 2>"$T/re" ||
    die "restore.sh failed: $(cat "$T/re")"
bash "$RESTORE_SH" --backup "$T/backup" --data "$T/data3" --db "$DST" >/dev/null 2>"$T/re" &&
    fail "a restore into a database holding capscreen tables was accepted"
for tbl in studies frames uploads users reports devices; do
    a=$("${PSQL[@]}" -d src -c "SELECT count(*) FROM $tbl")
    b=$("${PSQL[@]}" -d dst -c "SELECT count(*) FROM $tbl")
    [ "$a" = "$b" ] || fail "table $tbl: $a rows at the source, $b restored"
done
start_server "$T/data2" --db "$DST"
http GET "/api/v1/studies/$STUDY" -H "Authorization: Bearer $ADMIN_TOKEN"
[ "$CODE" = 200 ] || fail "the restored study: $CODE"
python3 - "$T/study-before.json" "$T/body" <<'PY' || fail "the restored study's analysis differs"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("progress", "counts"):
    assert a[k] == b[k], (k, a[k], b[k])
PY
login
fetch_frames "$T/frames-after"
[ "$(ls "$T/frames-after" | wc -l)" = "$NFRAMES" ] || fail "not every frame came back"
diff -r "$T/frames-before" "$T/frames-after" >/dev/null || fail "restored frames differ from the originals"
http GET "/api/v1/studies/$STUDY/report" -b "$T/jar"
[ "$CODE" = 200 ] && [ "$(json_get "$T/body" 'd["content"]["recommendation"]')" = colonoscopy ] ||
    fail "the restored report: $CODE $(cat "$T/body")"
ok "restored into an empty database and folder: $NFRAMES frames byte-identical, analysis, login and report as before"
stop_server

# --- an instance without study files ------------------------------------------------------
"${PSQL[@]}" -d postgres -c "CREATE DATABASE src2" -c "CREATE DATABASE dst2"
echo "pw-reader-0123456789" | "$CAPSCREEN" user add --data "$T/e-data" --db postgresql:///src2 \
    --name reader --role reader >/dev/null 2>"$T/e" || die "user add: $(cat "$T/e")"
bash "$BACKUP_SH" --data "$T/e-data" --db postgresql:///src2 --out "$T/e-backup" >/dev/null 2>"$T/be" ||
    die "backup.sh of an instance without study files failed: $(cat "$T/be")"
RC=0
bash "$RESTORE_SH" --backup "$T/e-backup" --data "$T/e-data2" --db postgresql:///dst2 \
    >/dev/null 2>"$T/re" || RC=$?
[ "$RC" -eq 0 ] || fail "restoring a backup without study files exited $RC: $(cat "$T/re")"
[ "$("${PSQL[@]}" -d dst2 -c "SELECT name FROM users")" = reader ] || fail "its user was not restored"
ok "an instance without study files is backed up and restored"
cs_finish
