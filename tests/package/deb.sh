#!/usr/bin/env bash
# deb.sh - the Debian package a hospital installs (packaging/): cpack
# builds it from this build; its control data, maintainer scripts and file
# list are checked; it is unpacked into a clean folder (dpkg -x) and the
# INSTALLED binary is started with the installed configuration (paths
# moved under that folder), its models and pages: /healthz answers and /
# serves the installed web/index.html. Then, as root, `dpkg -i` runs for
# real in a copy-on-write chroot of this machine (an overlay of /, thrown
# away): the maintainer scripts make the user, the data folder and the
# token, the service user starts the installed server, a purge keeps the
# data. The systemd unit passes `systemd-analyze verify` and carries the
# hardening settings.
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
for c in capscreen.conf care-protocol.json; do
    grep -qx "/etc/capscreen/$c" "$T/ctl/conffiles" || fail "$c is not a conffile"
done
for s in postinst prerm postrm; do
    [ -x "$T/ctl/$s" ] || { fail "no executable $s"; continue; }
    sh -n "$T/ctl/$s" || fail "$s does not parse"
done
grep -q 'adduser --system' "$T/ctl/postinst" || fail "postinst makes no system user"
grep -q 'install -d -o capscreen -g capscreen -m 0750 /var/lib/capscreen' "$T/ctl/postinst" ||
    fail "postinst does not make the data folder capscreen's"
dpkg-deb -c "$DEB" | awk '{print $NF}' | sed 's#^\./#/#' >"$T/files"
for f in /usr/bin/capscreen /usr/bin/capscreen-uplink /etc/capscreen/capscreen.conf \
    /etc/capscreen/care-protocol.json /usr/share/capscreen/web/patient.html \
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

# --- dpkg -i in a throwaway copy of this machine -----------------------------------------------
# An overlay of / (writes go to a temp folder, this machine is untouched)
# in a private mount namespace, chrooted: the real dpkg runs the real
# maintainer scripts there. Then the service's user starts the installed
# server from the installed configuration, and a purge keeps the data.
chroot_install() {
    local m=$T/ovl/m
    mkdir -p "$T/ovl/up" "$T/ovl/work" "$m"
    cp "$DEB" "$T/ovl/capscreen.deb"
    unshare -m bash -c '
        set -e
        m=$1 T=$2
        mount -t overlay overlay -o "lowerdir=/,upperdir=$T/ovl/up,workdir=$T/ovl/work" "$m"
        mount -t proc proc "$m/proc"
        mount --rbind /dev "$m/dev"
        mount --rbind /sys "$m/sys"
        mount -t tmpfs tmpfs "$m/run"
        mount -t tmpfs tmpfs "$m/tmp"
        cp "$T/ovl/capscreen.deb" "$m/tmp/"
        exec chroot "$m" /bin/bash -c "$3"
    ' chroot-install "$m" "$T" '
        set -e
        getent passwd capscreen >/dev/null && { echo "user capscreen exists before the install"; exit 1; }
        dpkg -i /tmp/capscreen.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
        getent passwd capscreen | grep -q ":/var/lib/capscreen:" || { echo "no system user capscreen"; exit 1; }
        [ "$(stat -c %U:%G:%a /var/lib/capscreen)" = capscreen:capscreen:750 ] ||
            { echo "data folder: $(stat -c %U:%G:%a /var/lib/capscreen)"; exit 1; }
        [ "$(stat -c %U:%G:%a /etc/capscreen/capscreen.conf)" = root:capscreen:640 ] ||
            { echo "config: $(stat -c %U:%G:%a /etc/capscreen/capscreen.conf)"; exit 1; }
        [ "$(stat -c %U:%G:%a /etc/capscreen/admin-token)" = root:capscreen:640 ] ||
            { echo "token: $(stat -c %U:%G:%a /etc/capscreen/admin-token)"; exit 1; }
        [ "$(tr -d "\n" </etc/capscreen/admin-token | wc -c)" = 64 ] || { echo "token is not 64 hex digits"; exit 1; }
        # The service as the unit runs it (as capscreen, the installed
        # config), on a free port instead of 8080.
        runuser -u capscreen -- /usr/bin/capscreen serve --config /etc/capscreen/capscreen.conf \
            --listen 127.0.0.1:0 >/tmp/srv.out 2>/tmp/srv.err &
        pid=$!
        for _ in $(seq 1 600); do
            grep -q listening /tmp/srv.out 2>/dev/null && break
            kill -0 $pid 2>/dev/null || { echo "installed service exited: $(cat /tmp/srv.err)"; exit 1; }
            sleep 0.05
        done
        addr=$(sed -n "s/.*\"listening\": *\"\([^\"]*\)\".*/\1/p" /tmp/srv.out)
        code=$(curl -s -o /dev/null -w "%{http_code}" "http://$addr/healthz")
        tok=$(cat /etc/capscreen/admin-token)
        made=$(curl -s -o /tmp/study.json -w "%{http_code}" -H "Authorization: Bearer $tok" \
            -d "{\"label\": \"pkg\"}" "http://$addr/api/v1/studies")
        kill -TERM $pid; wait $pid || true
        [ "$code" = 200 ] || { echo "/healthz of the installed service: $code"; exit 1; }
        [ "$made" = 201 ] || { echo "study create with the generated token: $made $(cat /tmp/study.json)"; exit 1; }
        [ "$(stat -c %U /var/lib/capscreen/capscreen.db)" = capscreen ] || { echo "the store is not capscreen'"'"'s"; exit 1; }
        dpkg --purge capscreen >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; exit 1; }
        [ ! -e /usr/bin/capscreen ] && [ ! -e /etc/capscreen ] || { echo "purge left the program or /etc/capscreen"; exit 1; }
        [ -f /var/lib/capscreen/capscreen.db ] || { echo "purge removed the clinical data"; exit 1; }
    '
}
# Under CI=true (root, as .ci/run) the real install must run; elsewhere
# its absence is said, not hidden.
not_run() {
    if [ "${CI:-}" = true ]; then fail "dpkg -i in a copy-on-write chroot could not run: $1"; else
        echo "NOT RUN - dpkg -i in a copy-on-write chroot: $1"; fi
}
if ! command -v unshare >/dev/null || [ "$(id -u)" != 0 ]; then
    not_run "needs root and unshare"
elif ! (mkdir -p "$T/p/u" "$T/p/w" "$T/p/m" &&
    unshare -m mount -t overlay overlay -o "lowerdir=/,upperdir=$T/p/u,workdir=$T/p/w" "$T/p/m" \
        2>/dev/null); then
    not_run "this kernel or container refuses an overlay mount"
elif chroot_install >"$T/chroot.log" 2>&1; then
    echo "ok - dpkg -i in a copy-on-write chroot: user, 0750 data folder, 0640 config and token; the service user runs it (/healthz 200, the generated token creates a study); purge keeps the data"
else
    fail "dpkg -i in a copy-on-write chroot: $(tail -20 "$T/chroot.log")"
fi

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
