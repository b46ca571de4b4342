# store-location.sh - what backup.sh and restore.sh share (sourced, not
# run): where the store is, found as `capscreen serve` finds it
# (src/server/config.c): a flag wins, then the environment
# (CAPSCREEN_DATA, CAPSCREEN_DB; set but empty counts: CAPSCREEN_DB=
# means SQLite), then the config file (--config, else $CAPSCREEN_CONFIG;
# "key = value" lines, the last one wins). Unlike serve, no data folder
# given anywhere is refused rather than taken as ./capscreen-data.
# The caller leaves DATA and DB unset unless their flag was given.
# Needs die() from the caller.

# A key of the config file (nothing without one).
conf_key() {
    [ -n "$CONFIG" ] || return 0
    sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\(.*[^[:space:]]\)\{0,1\}[[:space:]]*$/\1/p" \
        "$CONFIG" | tail -n 1
}

resolve_store_location() {
    [ -n "$CONFIG" ] || CONFIG=${CAPSCREEN_CONFIG:-}
    if [ -n "$CONFIG" ]; then
        [ -r "$CONFIG" ] || die "cannot read $CONFIG"
    fi
    [ -n "${DATA+set}" ] || DATA=${CAPSCREEN_DATA-$(conf_key data)}
    [ -n "${DB+set}" ] || DB=${CAPSCREEN_DB-$(conf_key db)}
    [ -n "$DATA" ] || die "no data folder (--data, CAPSCREEN_DATA or data = in the config file)"
}
