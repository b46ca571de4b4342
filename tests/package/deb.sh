#!/usr/bin/env bash
# deb.sh - the Debian package a hospital installs (packaging/): cpack
# builds it from this build; its control data, maintainer scripts and file
# list are checked; it is unpacked into a clean folder (dpkg -x) and the
# INSTALLED binary is started with the installed configuration (paths
# moved under that folder), its models and pages: /healthz answers and /
# serves the installed web/index.html. The systemd unit passes
# `systemd-analyze verify` and carries the hardening settings.
set -euo pipefail
: "${CS_BUILD_DIR:?}" "${CS_SOURCE_DIR:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/cs-pkg.XXXXXX")
SRV=
cleanup() {
    [ -n "$SRV" ] && kill -KILL "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
FAILS=0
fail() { echo "FAIL deb: $*" >&2; FAILS=$((FAILS + 1)); }
die() { echo "FAIL deb: $*" >&2; exit 1; }
for tool in cpack dpkg-deb curl; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/apt-packages.txt)"
done

# --- build -------------------------------------------------------------------------
(cd "$CS_BUILD_DIR" && cpack -G DEB -B "$T/pkg" >"$T/cpack.log" 2>&1) ||
    die "cpack failed: $(tail -20 "$T/cpack.log")"
DEB=$(ls "$T"/pkg/capscreen_*.deb 2>/dev/null | head -n 1)
[ -n "$DEB" ] || die "cpack made no capscreen_*.deb: $(tail -5 "$T/cpack.log")"
echo "ok - cpack built $(basename "$DEB") ($(du -k "$DEB" | cut -f1) KiB)"

# --- control data, scripts, files ----------------------------------------------------
dpkg-deb -f "$DEB" Package | grep -qx capscreen || fail "Package is not capscreen"
DEPS=$(dpkg-deb -f "$DEB" Depends)
for dep in adduser libpq5 libsqlite3 libmicrohttpd libsodium; do
    echo "$DEPS" | grep -q "$dep" || fail "Depends lacks $dep: $DEPS"
done
mkdir "$T/ctl"
dpkg-deb -e "$DEB" "$T/ctl"
grep -qx /etc/capscreen/capscreen.conf "$T/ctl/conffiles" || fail "capscreen.conf is not a conffile"
for s in postinst prerm postrm; do
    [ -x "$T/ctl/$s" ] || { fail "no executable $s"; continue; }
    sh -n "$T/ctl/$s" || fail "$s does not parse"
done
grep -q 'adduser --system' "$T/ctl/postinst" || fail "postinst makes no system user"
grep -q 'install -d -o capscreen -g capscreen -m 0750 /var/lib/capscreen' "$T/ctl/postinst" ||
    fail "postinst does not make the data folder capscreen's"
dpkg-deb -c "$DEB" | awk '{print $NF}' | sed 's#^\./#/#' >"$T/files"
for f in /usr/bin/capscreen /usr/bin/capscreen-uplink /etc/capscreen/capscreen.conf \
    /lib/systemd/system/capscreen.service /usr/share/capscreen/models/bleeding-xgb.json \
    /usr/share/capscreen/models/polyp-unet.bin /usr/share/capscreen/web/index.html \
    /usr/share/capscreen/scripts/backup.sh /usr/share/capscreen/scripts/restore.sh \
    /usr/share/doc/capscreen/deploy.md; do
    grep -qx "$f" "$T/files" || fail "the package lacks $f"
done
if grep -q "$CS_SOURCE_DIR\|$CS_BUILD_DIR" "$T/files"; then fail "build paths in the file list"; fi
[ "$FAILS" -eq 0 ] && echo "ok - control: Depends from the binaries, conffile, maintainer scripts; every file in place"

# --- unpack into a clean folder and run the installed binary -----------------------------
ROOT=$T/root
dpkg -x "$DEB" "$ROOT"
cmp -s "$ROOT/usr/share/capscreen/models/polyp-unet.bin" "$CS_SOURCE_DIR/models/polyp-unet.bin" ||
    fail "the installed polyp weights differ from models/"
# The installed configuration, its absolute paths moved under $ROOT; the
# data folder and the listening port are the test's own.
sed -e "s#= /usr/#= $ROOT/usr/#" -e "s#= /etc/#= $ROOT/etc/#" \
    -e "s#^data = .*#data = $T/data#" -e "s#^listen = .*#listen = 127.0.0.1:0#" \
    "$ROOT/etc/capscreen/capscreen.conf" >"$T/capscreen.conf"
grep -q "^model = $ROOT/usr/share/capscreen/models/bleeding-xgb.json" "$T/capscreen.conf" ||
    fail "the installed configuration does not name the installed bleeding model"
printf 'test-admin-token-0123456789abcdef\n' >"$ROOT/etc/capscreen/admin-token"
# The configuration names every path (models, pages, data), so the
# compiled-in defaults (this source tree, unless built with -DCS_DATA_DIR)
# play no part: what runs is the package's.
"$ROOT/usr/bin/capscreen" serve --config "$T/capscreen.conf" >"$T/srv.out" 2>"$T/srv.err" &
SRV=$!
for _ in $(seq 1 600); do
    grep -q listening "$T/srv.out" 2>/dev/null && break
    kill -0 "$SRV" 2>/dev/null || die "the installed server exited: $(tail -5 "$T/srv.err")"
    sleep 0.05
done
ADDR=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listening"])' "$T/srv.out") ||
    die "the installed server printed no address: $(cat "$T/srv.out" "$T/srv.err")"
CODE=000
for _ in $(seq 1 600); do
    CODE=$(curl -s -o "$T/healthz" -w '%{http_code}' "http://$ADDR/healthz") || CODE=000
    [ "$CODE" = 200 ] && break
    sleep 0.05
done
[ "$CODE" = 200 ] || fail "the installed server's /healthz: $CODE"
curl -sf -o "$T/index.html" "http://$ADDR/" || fail "the installed server serves no /"
cmp -s "$T/index.html" "$ROOT/usr/share/capscreen/web/index.html" ||
    fail "/ is not the installed web/index.html"
[ -f "$T/data/capscreen.db" ] || fail "no store in the configured data folder"
kill -TERM "$SRV"
wait "$SRV" 2>/dev/null || fail "the installed server did not stop cleanly on SIGTERM"
SRV=
echo "ok - the installed binary serves from the installed configuration, models and pages; /healthz 200"

# --- the systemd unit -------------------------------------------------------------------------
UNIT=$ROOT/lib/systemd/system/capscreen.service
for want in 'User=capscreen' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' \
    'PrivateTmp=yes' 'ReadWritePaths=/var/lib/capscreen' 'CapabilityBoundingSet=' \
    'ExecStart=/usr/bin/capscreen serve --config /etc/capscreen/capscreen.conf'; do
    grep -qx "$want" "$UNIT" || fail "the unit lacks $want"
done
if command -v systemd-analyze >/dev/null; then
    # verify resolves ExecStart=/usr/bin/capscreen: a copy of the unit
    # pointing at the unpacked binary is checked.
    sed "s#^ExecStart=/usr/bin/capscreen#ExecStart=$ROOT/usr/bin/capscreen#" "$UNIT" \
        >"$T/capscreen.service"
    if ! SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$T/capscreen.service" >"$T/verify" 2>&1; then
        fail "systemd-analyze verify: $(cat "$T/verify")"
    elif grep -v -e "^$" -e 'Cannot open' -e 'Failed to' "$T/verify" | grep -qi 'unknown\|invalid\|ignoring'; then
        fail "systemd-analyze verify warns: $(cat "$T/verify")"
    else
        echo "ok - systemd-analyze verify accepts the unit; hardening settings present"
    fi
else
    echo "ok - the unit carries the hardening settings (systemd-analyze not installed: not verified)"
fi
[ "$FAILS" -eq 0 ] || exit 1
echo "PASS deb"
