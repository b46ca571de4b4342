#!/usr/bin/env bash
# backup_restore.sh - scripts/backup.sh and scripts/restore.sh on SQLite
# (no PostgreSQL needed; backup_restore_pg.sh runs them on PostgreSQL with
# a server): study files imported by the real CLI are backed up while one
# of them grows, and restored byte-identical; the backup and the restored
# store are private; a backup without study files restores; an uploads/
# linked onto another disk is backed up as files; lost+found is neither
# backed up nor in the way of a restore; --out inside the data folder and
# a failed backup leave nothing; a restore that fails copying says why,
# leaves nothing and can be run again; the data folder and store are found
# as `capscreen serve` finds them.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_python
unset CAPSCREEN_DATA CAPSCREEN_DB CAPSCREEN_CONFIG  # each check sets its own
BACKUP_SH=$CS_SOURCE_DIR/scripts/backup.sh
RESTORE_SH=$CS_SOURCE_DIR/scripts/restore.sh
backup() { RC=0; bash "$BACKUP_SH" "$@" >"$T/bo" 2>"$T/be" || RC=$?; }
restore() { RC=0; bash "$RESTORE_SH" "$@" >"$T/ro" 2>"$T/re" || RC=$?; }
"$CAPSCREEN" pack --fps 4 "$CS_SOURCE_DIR/samples/demo/frames" "$T/demo.csfs" >/dev/null 2>"$T/e" ||
    die "pack: $(cat "$T/e")"
# instance DATA: a SQLite instance with the demo study imported.
instance() {
    run_cs "$T/o" "$T/e" study import --data "$1" --label Demo "$T/demo.csfs"
    [ "$RC" -eq 0 ] || die "study import: $(cat "$T/e")"
}

# --- a backup while a study file grows -------------------------------------------
instance "$T/data"
mkdir -p "$T/data/thumbs/s1"
echo thumb >"$T/data/thumbs/s1/0.jpg"
grow_file "$T/data/uploads/growing.bin"
backup --data "$T/data" --out "$T/bk"
stop_growing
[ "$RC" -eq 0 ] || fail "a backup while a study file grew exited $RC: $(cat "$T/be")"
[ ! -e "$T/bk/files/thumbs" ] || fail "the thumbnail cache was backed up"
restore --backup "$T/bk" --data "$T/r"
[ "$RC" -eq 0 ] || fail "restoring that backup exited $RC: $(cat "$T/re")"
[ "$(stat -c %s "$T/r/uploads/growing.bin" 2>/dev/null || echo 0)" -ge "$GROW_S0" ] ||
    fail "the growing file was restored shorter than it was before the backup"
[ "$(find "$T/r/uploads" -type f | wc -l)" = 2 ] || fail "the restore lacks a study file"
ok "a backup while a study file grows (thumbs/ present) succeeds without the cache and restores"

# --- a failed backup leaves no folder ------------------------------------------------
mkdir "$T/bad"
echo "not a database" >"$T/bad/capscreen.db"
backup --data "$T/bad" --out "$T/bk-bad"
[ "$RC" -eq 1 ] || fail "a backup of a broken store exited $RC"
[ ! -e "$T/bk-bad" ] || fail "a failed backup left its folder"
ok "a failed backup exits 1 and leaves no folder"

# --- private modes ---------------------------------------------------------------------
[ "$(stat -c %a "$T/bk")" = 700 ] || fail "the backup folder is $(stat -c %a "$T/bk"), not 700"
[ -z "$(find "$T/bk" -perm /077 | head -n 3)" ] ||
    fail "readable by others in the backup: $(find "$T/bk" -perm /077 | head -n 3)"
ok "the backup is private to its owner"

# --- an uploads/ linked onto another disk ------------------------------------------------------
instance "$T/sl"
mkdir "$T/disk"
mv "$T/sl/uploads" "$T/disk/uploads"
ln -s "$T/disk/uploads" "$T/sl/uploads"
backup --data "$T/sl" --out "$T/bk-sl"
[ "$RC" -eq 0 ] || fail "a backup with a linked uploads/ exited $RC: $(cat "$T/be")"
[ "$(grep -c ' \./files/uploads/' "$T/bk-sl/MANIFEST.sha256" || true)" = 1 ] ||
    fail "a linked uploads/ gave a backup without its study file"
restore --backup "$T/bk-sl" --data "$T/r-sl"
[ "$RC" -eq 0 ] || fail "restoring it exited $RC: $(cat "$T/re")"
diff -r "$T/disk/uploads" "$T/r-sl/uploads" >/dev/null || fail "the linked study files were not restored"
ok "a linked uploads/ is backed up as its files and restored"

# --- --out inside the data folder ----------------------------------------------------------------
ln -s "$T/sl" "$T/sl-link"
backup --data "$T/sl" --out "$T/sl-link/bk"
[ "$RC" -eq 1 ] || fail "--out inside the data folder (through a link) exited $RC"
[ ! -e "$T/sl/bk" ] || fail "--out inside the data folder left $T/sl/bk"
backup --data "$T/data" --out "$T/data/uploads/../bk"
[ "$RC" -eq 1 ] && [ ! -e "$T/data/bk" ] || fail "--out inside the data folder (through ..) exited $RC"
ok "--out inside the data folder is refused, writing nothing"

# --- a backup without study files; lost+found -------------------------------------------
mkdir "$T/empty"
echo "pw-reader-0123456789" | "$CAPSCREEN" user add --data "$T/empty" --name reader --role reader \
    >/dev/null 2>"$T/e" || die "user add: $(cat "$T/e")"
mkdir -m 0700 "$T/empty/lost+found"
echo orphan >"$T/empty/lost+found/#1234"
backup --data "$T/empty" --out "$T/bk-empty"
[ "$RC" -eq 0 ] || fail "a backup without study files exited $RC: $(cat "$T/be")"
[ ! -e "$T/bk-empty/files/lost+found" ] || fail "lost+found was backed up"
ok "a backup without study files, lost+found left out"

# --- a restore is private, even from a backup that was not ---------------------------------
cp -a "$T/bk" "$T/bk-public"
chmod -R go+rX "$T/bk-public"
restore --backup "$T/bk-public" --data "$T/r-pub"
[ "$RC" -eq 0 ] || fail "restoring a readable copy of the backup exited $RC: $(cat "$T/re")"
[ -z "$(find "$T/r" "$T/r-pub" -mindepth 1 -perm /077 | head -n 3)" ] ||
    fail "readable by others in the restore: $(find "$T/r" "$T/r-pub" -mindepth 1 -perm /077 | head -n 3)"
[ "$(stat -c %a "$T/r-pub")" = 750 ] || fail "the restored data folder is $(stat -c %a "$T/r-pub"), not 750"
ok "what is restored is private to its owner"

# --- a restore that fails copying the files ---------------------------------------------
# A file-size limit stands in for a full disk: writing the large file fails.
RC=0
(ulimit -f 4096; exec bash "$RESTORE_SH" --backup "$T/bk" --data "$T/r-full") >/dev/null 2>"$T/re" || RC=$?
[ "$RC" -eq 1 ] || fail "a restore that could not copy its files exited $RC, not 1"
grep -q '^restore: .*nothing restored' "$T/re" || fail "no reason for the failed restore: $(cat "$T/re")"
[ ! -e "$T/r-full" ] || fail "a failed restore left the data folder it made"
restore --backup "$T/bk" --data "$T/r-full"
[ "$RC" -eq 0 ] || fail "the same restore, run again, exited $RC: $(cat "$T/re")"
ok "a restore that fails copying exits 1 with a reason, leaves nothing, and can be run again"

# --- a damaged backup names the damaged file ---------------------------------------------
cp -a "$T/bk" "$T/damaged"
f=$(find "$T/damaged/files/uploads" -type f ! -name growing.bin | head -n 1)
printf 'X' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
restore --backup "$T/damaged" --data "$T/r-dmg"
[ "$RC" -eq 1 ] || fail "a damaged backup: restore exited $RC"
grep -q "$(basename "$f")" "$T/re" || fail "the refusal does not name the damaged file: $(cat "$T/re")"
ok "a damaged backup is refused, naming the file that fails the manifest"

# --- a restore without study files; into a folder holding only lost+found ----------------
restore --backup "$T/bk-empty" --data "$T/r-empty"
[ "$RC" -eq 0 ] || fail "restoring a backup without study files exited $RC: $(cat "$T/re")"
[ -f "$T/r-empty/capscreen.db" ] || fail "no store restored"
mkdir -p -m 0700 "$T/r-lf/lost+found"
restore --backup "$T/bk-empty" --data "$T/r-lf"
[ "$RC" -eq 0 ] || fail "restoring into a folder holding only lost+found exited $RC: $(cat "$T/re")"
[ -f "$T/r-lf/capscreen.db" ] && [ -d "$T/r-lf/lost+found" ] || fail "not restored beside lost+found"
ok "a backup without study files restores, also into a folder holding only lost+found"

# --- run as root, the restored store is the data folder owner's -----------------------------
if [ "$(id -u)" = 0 ]; then
    mkdir -m 0750 "$T/r-own"
    chown 65534:65534 "$T/r-own"
    restore --backup "$T/bk" --data "$T/r-own"
    [ "$RC" -eq 0 ] || fail "a restore as root into a folder of uid 65534 exited $RC: $(cat "$T/re")"
    [ -z "$(find "$T/r-own" ! -user 65534 | head -n 3)" ] ||
        fail "restored as root, not the folder owner's: $(find "$T/r-own" ! -user 65534 | head -n 3)"
    ok "restored as root, everything belongs to the data folder's owner"
fi

# --- where the store is: flags, then the environment, then the config file ------------------------
printf 'data = %s\ndb = postgresql:///nowhere\n' "$T/nowhere" >"$T/conf"
RC=0
CAPSCREEN_DATA=$T/empty bash "$BACKUP_SH" --config "$T/conf" --db '' --out "$T/bk-env" \
    >/dev/null 2>"$T/be" || RC=$?
[ "$RC" -eq 0 ] && grep -q "\"data\": \"$T/empty\"" "$T/bk-env/backup.json" ||
    fail "CAPSCREEN_DATA does not override the config file ($RC): $(cat "$T/be")"
RC=0
CAPSCREEN_DB= bash "$BACKUP_SH" --config "$T/conf" --data "$T/empty" --out "$T/bk-env2" \
    >/dev/null 2>"$T/be" || RC=$?
[ "$RC" -eq 0 ] && [ -f "$T/bk-env2/capscreen.db" ] ||
    fail "an empty CAPSCREEN_DB (SQLite) does not override the config file's db ($RC): $(cat "$T/be")"
printf 'data = %s\n' "$T/empty" >"$T/conf2"
RC=0
CAPSCREEN_CONFIG=$T/conf2 bash "$BACKUP_SH" --out "$T/bk-cfg" >/dev/null 2>"$T/be" || RC=$?
[ "$RC" -eq 0 ] || fail "CAPSCREEN_CONFIG is not read without --config ($RC): $(cat "$T/be")"
RC=0
CAPSCREEN_DATA=$T/nowhere bash "$BACKUP_SH" --data "$T/empty" --out "$T/bk-flag" >/dev/null 2>"$T/be" || RC=$?
[ "$RC" -eq 0 ] || fail "--data does not override CAPSCREEN_DATA ($RC): $(cat "$T/be")"
ok "the data folder and store are found as capscreen serve finds them"
cs_finish
