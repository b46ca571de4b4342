# store-location.sh - what backup.sh and restore.sh share (sourced, not
# run): where the store is. Fills DATA and DB that were not given as
# flags from the config file ($CONFIG, "key = value" lines, the last one
# wins), then DB from $CAPSCREEN_DB, as `capscreen serve` resolves them.
# Needs die() from the caller.

# A key of the config file.
conf_key() {
    sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\(.*[^[:space:]]\)[[:space:]]*$/\1/p" \
        "$CONFIG" | tail -n 1
}

resolve_store_location() {
    if [ -n "$CONFIG" ]; then
        [ -r "$CONFIG" ] || die "cannot read $CONFIG"
        [ -n "$DATA" ] || DATA=$(conf_key data)
        [ -n "$DB" ] || DB=$(conf_key db)
    fi
    if [ -n "${CAPSCREEN_DB:-}" ] && [ -z "$DB" ]; then DB=$CAPSCREEN_DB; fi
    [ -n "$DATA" ] || die "no data folder (--data or data = in --config)"
}
