# tests/lib/pg.sh - a throwaway PostgreSQL server for a test (sourced).
#
#   . tests/lib/pg.sh
#   pg_start            # initdb in a fresh temp folder, start on a free port
#   ... PGHOST/PGPORT/PGUSER are exported, CS_PG_URL is the postgres database
#   pg_stop             # also run by the EXIT trap pg_start sets
#
# The server is Debian's (package postgresql): initdb with trust
# authentication for its own superuser "capscreen", fsync off (a test's
# data need not survive a power cut), a unix socket in the temp folder and
# TCP on 127.0.0.1:PORT (for tools that want TCP). initdb refuses to run as
# root, so as root the server runs as user "nobody". pg_start waits for the
# server to accept connections (pg_ctl -w), never for a fixed time.
#
# Cleanup: an EXIT/INT/TERM trap stops the server and removes the folder;
# a watchdog process does the same if the test's shell dies without
# running its traps (e.g. SIGKILL from a ctest timeout).
#
# Binaries missing: the test is skipped (exit 77), except under CI=true,
# where postgresql is in scripts/apt-packages.txt and so must be there:
# then it fails (exit 1).

pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  d=$(dirname "$(command -v initdb 2>/dev/null)" 2>/dev/null)
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  return 1
}

pg_free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Run a command as the server's user.
pg_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

pg_stop() {
  [ -n "${CS_PG_DIR:-}" ] || return 0
  if [ -f "$CS_PG_DIR/data/postmaster.pid" ]; then
    pg_as "$CS_PG_BIN/pg_ctl" -D "$CS_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  [ -n "${CS_PG_WATCHDOG:-}" ] && kill "$CS_PG_WATCHDOG" 2>/dev/null
  rm -rf "$CS_PG_DIR"
  CS_PG_DIR=
}

pg_start() {
  if ! CS_PG_BIN=$(pg_bindir); then
    if [ "${CI:-}" = true ]; then
      echo "FAIL: PostgreSQL binaries (initdb, pg_ctl) not found; install the 'postgresql' package (scripts/apt-packages.txt)" >&2
      exit 1
    fi
    echo "SKIP: PostgreSQL binaries (initdb, pg_ctl) not found; install the 'postgresql' package" >&2
    exit 77
  fi
  CS_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cs-pg-XXXXXX")
  # As root the server runs as nobody, who must reach the folder: a
  # private TMPDIR (under /root, say) is not enough, /tmp is.
  if [ "$(id -u)" = 0 ] && ! runuser -u nobody -- test -x "$(dirname "$CS_PG_DIR")"; then
    rmdir "$CS_PG_DIR"
    CS_PG_DIR=$(mktemp -d /tmp/cs-pg-XXXXXX)
  fi
  chmod 755 "$CS_PG_DIR"
  mkdir "$CS_PG_DIR/data"
  if [ "$(id -u)" = 0 ]; then chown nobody "$CS_PG_DIR" "$CS_PG_DIR/data"; fi
  chmod 700 "$CS_PG_DIR/data"
  trap 'pg_stop' EXIT
  trap 'pg_stop; exit 130' INT
  trap 'pg_stop; exit 143' TERM
  local owner=$$
  # The watchdog: its own process group member that outlives a killed shell.
  ( trap '' INT TERM HUP
    while kill -0 "$owner" 2>/dev/null; do sleep 1; done
    [ -f "$CS_PG_DIR/data/postmaster.pid" ] &&
      pg_as "$CS_PG_BIN/pg_ctl" -D "$CS_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
    rm -rf "$CS_PG_DIR" ) >/dev/null 2>&1 &
  CS_PG_WATCHDOG=$!
  if ! pg_as "$CS_PG_BIN/initdb" -D "$CS_PG_DIR/data" -U capscreen -A trust -E UTF8 \
         --locale=C --no-sync >"$CS_PG_DIR/initdb.log" 2>&1; then
    echo "FAIL: initdb failed:" >&2; cat "$CS_PG_DIR/initdb.log" >&2; exit 1
  fi
  local tries
  for tries in 1 2 3; do
    CS_PG_PORT=$(pg_free_port)
    if pg_as "$CS_PG_BIN/pg_ctl" -D "$CS_PG_DIR/data" -l "$CS_PG_DIR/server.log" -w -t 60 \
         -o "-p $CS_PG_PORT -k $CS_PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60 -c shared_buffers=32MB" \
         start >/dev/null 2>&1; then
      break
    fi
    CS_PG_PORT=
  done
  if [ -z "$CS_PG_PORT" ]; then
    echo "FAIL: PostgreSQL did not start:" >&2; tail -20 "$CS_PG_DIR/server.log" >&2; exit 1
  fi
  export PGHOST="$CS_PG_DIR" PGPORT="$CS_PG_PORT" PGUSER=capscreen
  export CS_PG_URL="postgresql://capscreen@/postgres?host=$CS_PG_DIR&port=$CS_PG_PORT"
  export CS_PG_DIR CS_PG_PORT CS_PG_BIN
}
