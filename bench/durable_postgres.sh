# shellcheck shell=bash disable=SC2034 # sourced: the DURABLE_PG_* variables are its interface
# A throwaway durable PostgreSQL server for the benchmarks (sourced, not run): the settings of an
# ordinary production server (fsync, full_page_writes, synchronous_commit on), unlike the test
# servers of scripts/services.sh (fsync off), which flatter a writer that commits often.
#
#   . bench/durable_postgres.sh
#   durable_pg_start        # sets DURABLE_PG_URL, DURABLE_PG_DIR, DURABLE_PG_BIN
#   ...                     # benchmark against "$DURABLE_PG_URL"
#   durable_pg_stop         # stops the server and removes its directory (safe to call twice)
#
# initdb in a new directory under SPDLOG_EXT_BENCH_DURABLE_DIR (default /var/tmp: a disk, not a
# tmpfs), as the "postgres" user when run as root; listens on 127.0.0.1 and a random port.
# The server binaries: $SPDLOG_EXT_TEST_PG_BINDIR, else the newest /usr/lib/postgresql/*/bin.

DURABLE_PG_URL=""
DURABLE_PG_DIR=""
DURABLE_PG_BIN=""

_durable_pg_run() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

_durable_pg_find_bin() {
  local d
  if [[ -n ${SPDLOG_EXT_TEST_PG_BINDIR:-} && -x $SPDLOG_EXT_TEST_PG_BINDIR/initdb ]]; then
    echo "$SPDLOG_EXT_TEST_PG_BINDIR"
    return 0
  fi
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [[ -x $d/initdb ]] && echo "$d"
}

durable_pg_start() {
  local port attempt
  DURABLE_PG_BIN=$(_durable_pg_find_bin) || {
    echo "durable_postgres: no initdb found (set SPDLOG_EXT_TEST_PG_BINDIR)" >&2
    return 2
  }
  DURABLE_PG_DIR=$(mktemp -d "${SPDLOG_EXT_BENCH_DURABLE_DIR:-/var/tmp}/bench_pg_durable.XXXXXX")
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$DURABLE_PG_DIR"; fi
  _durable_pg_run "$DURABLE_PG_BIN/initdb" -D "$DURABLE_PG_DIR/data" --auth=trust -U postgres \
    --encoding=UTF8 --locale=C >"$DURABLE_PG_DIR/initdb.log" 2>&1 || {
    echo "durable_postgres: initdb failed (see $DURABLE_PG_DIR/initdb.log)" >&2
    return 1
  }
  for attempt in 1 2 3; do  # a random port may be taken: try another
    port=$((20000 + RANDOM % 20000))
    if _durable_pg_run "$DURABLE_PG_BIN/pg_ctl" -D "$DURABLE_PG_DIR/data" \
      -l "$DURABLE_PG_DIR/server.log" -w -o "-p $port -k $DURABLE_PG_DIR \
        -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on \
        -c full_page_writes=on" start >/dev/null; then
      DURABLE_PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
      echo "durable server: PostgreSQL in $DURABLE_PG_DIR on" \
        "$(df -h --output=source,fstype "$DURABLE_PG_DIR" | tail -1)" >&2
      return 0
    fi
    echo "durable_postgres: start on port $port failed (attempt $attempt)" >&2
  done
  tail -n 20 "$DURABLE_PG_DIR/server.log" >&2 || true
  return 1
}

durable_pg_stop() {
  if [[ -n $DURABLE_PG_DIR && -d $DURABLE_PG_DIR ]]; then
    _durable_pg_run "$DURABLE_PG_BIN/pg_ctl" -D "$DURABLE_PG_DIR/data" -m fast stop \
      >/dev/null 2>&1 || true
    rm -rf "$DURABLE_PG_DIR"
  fi
  DURABLE_PG_DIR=""
  DURABLE_PG_URL=""
}
