# tests/lib/with-pg.sh [--capscreen-db] CMD [ARGS...] - run CMD against a
# throwaway PostgreSQL (tests/lib/pg.sh): CS_TEST_PG=1 and libpq's PGHOST,
# PGPORT and PGUSER are set for it (the store's unit tests make a schema
# per test from these). With --capscreen-db an empty database "capscreen"
# is made and CAPSCREEN_DB names it, so every `capscreen` command CMD runs
# (serve, study, user) keeps its store there: an integration script runs
# unchanged on PostgreSQL. The server is stopped and removed afterwards,
# whatever CMD's outcome; CMD's exit status is this script's.
set -u
. "$(dirname "$0")/pg.sh"
make_db=
if [ "${1:-}" = --capscreen-db ]; then
    make_db=1
    shift
fi
pg_start
if [ -n "$make_db" ]; then
    psql -X -q -d postgres -c "CREATE DATABASE capscreen" || exit 1
    export CAPSCREEN_DB=postgresql:///capscreen
fi
CS_TEST_PG=1 "$@"
rc=$?
exit $rc
