# tests/lib/with-pg.sh CMD [ARGS...] - run CMD against a throwaway
# PostgreSQL (tests/lib/pg.sh): CS_TEST_PG=1 and libpq's PGHOST, PGPORT and
# PGUSER are set for it; the server is stopped and removed afterwards,
# whatever CMD's outcome. CMD's exit status is this script's.
set -u
. "$(dirname "$0")/pg.sh"
pg_start
CS_TEST_PG=1 "$@"
rc=$?
exit $rc
