#!/usr/bin/env bash
# Throwaway PostgreSQL and InfluxDB (1.x, v1 API) servers for the integration tests.
#
# Usage: scripts/services.sh COMMAND [DIR]   (logs: scripts/services.sh logs [N [DIR]])
#
#   start              Start both servers in a fresh temporary directory (or in
#                      $SPDLOG_EXT_SERVICES_DIR / DIR when given), wait until both
#                      answer, write DIR/env and print DIR on stdout.
#   stop               Stop both servers and remove the directory.
#   status             Report whether each server runs and answers (exit 3 if not both).
#   env                Print the env file (export lines), e.g. eval "$(scripts/services.sh env)".
#   logs [N]           Print the last N (default 40) lines of each server log.
#   pg-stop-immediate  Stop PostgreSQL with "pg_ctl stop -m immediate" (a crash).
#   pg-start           Start PostgreSQL again, same port and data directory.
#   influx-stop        Kill influxd (SIGKILL, a crash).
#   influx-start       Start influxd again, same port and configuration.
#
# Every command but start finds the directory from the DIR argument or
# $SPDLOG_EXT_SERVICES_DIR. Both servers listen on 127.0.0.1 only, on free ports
# picked at start. When run as root the servers run as the "postgres" and
# "influxdb" users (PostgreSQL refuses to run as root).
#
# Environment: SPDLOG_EXT_SERVICES_TIMEOUT (seconds to wait for a server, default 60).
set -euo pipefail

SCRIPT_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")"
readonly SCRIPT_PATH
readonly DB_NAME=spdlog_ext_test
readonly PG_SCRAM_USER=spdlog_ext_scram
readonly MARKER=.spdlog_ext_services
readonly CLEAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
TIMEOUT=${SPDLOG_EXT_SERVICES_TIMEOUT:-60}
[[ $TIMEOUT =~ ^[0-9]+$ ]] || TIMEOUT=60

DIR=""
# State, saved in $DIR/state by start and read back by the other commands.
PG_USER="" INFLUX_USER="" PG_DATA="" PG_BINDIR="" INFLUXD="" PG_PORT="" INFLUX_PORT="" INFLUX_RPC_PORT=""
USED_PORTS=" "

log() { printf 'services.sh: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
usage() { sed -n '2,/^set -euo/p' "$SCRIPT_PATH" | sed -e '$d' -e 's/^# \{0,1\}//'; }
is_root() { [[ $(id -u) -eq 0 ]]; }

# ---------------------------------------------------------------- helpers

# Print the last lines of a log file, indented, on stderr.
show_log() {
  local file=$1 lines=${2:-40}
  if [[ -s $file ]]; then
    log "---- last $lines lines of $file ----"
    tail -n "$lines" "$file" | sed 's/^/  | /' >&2
  else
    log "---- $file: empty or missing ----"
  fi
}

# Choose the account a server runs as: ourselves unless root; as root the
# preferred package user, else nobody, else a new system user.
pick_user() {
  local preferred=$1 u
  if ! is_root; then
    id -un
    return
  fi
  for u in "$preferred" nobody; do
    if id -u "$u" >/dev/null 2>&1 && [[ $(id -u "$u") -ne 0 ]]; then
      echo "$u"
      return
    fi
  done
  u=spdlog_ext_svc
  if ! id -u "$u" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u" >&2 ||
      die "cannot create user $u to run the servers"
  fi
  echo "$u"
}

# user_prefix USER: set the array RUNAS to the command prefix that runs a
# command as USER (if root) with a clean environment, so that variables such as
# PGDATA, PGPORT or INFLUXDB_* of the caller cannot change the servers.
user_prefix() {
  local user=$1
  RUNAS=(env -i "PATH=$CLEAN_PATH" "HOME=$DIR" "LANG=C" "LC_ALL=C")
  if ! is_root; then
    return 0
  elif command -v setpriv >/dev/null 2>&1; then
    RUNAS+=(setpriv "--reuid=$(id -u "$user")" "--regid=$(id -g "$user")" --init-groups --)
  else
    RUNAS+=(runuser -u "$user" --)
  fi
}

as_user() {
  local RUNAS
  user_prefix "$1"
  shift
  "${RUNAS[@]}" "$@"
}

# True if something listens on TCP port $1 (on any address).
port_busy() {
  local p=$1
  if command -v ss >/dev/null 2>&1 && [[ -n $(ss -Hltn "sport = :$p" 2>/dev/null) ]]; then
    return 0
  fi
  # Probe 127.0.0.1 as well (also covers machines without ss).
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    return 0
  fi
  return 1
}

# pick_port VAR: store a free TCP port in VAR. Ports come from below the
# kernel's ephemeral range so outgoing connections cannot take them meanwhile.
pick_port() {
  local var=$1 eph_lo lo hi p _
  eph_lo=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true)
  [[ $eph_lo =~ ^[0-9]+$ ]] || eph_lo=32768
  if ((eph_lo > 12000)); then
    lo=10000 hi=$((eph_lo - 1))
  else
    lo=20000 hi=60999
  fi
  for _ in $(seq 500); do
    p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
    [[ $USED_PORTS == *" $p "* ]] && continue
    port_busy "$p" && continue
    USED_PORTS+="$p "
    printf -v "$var" '%s' "$p"
    return 0
  done
  die "found no free TCP port in $lo-$hi"
}

# True if process $1 exists and is not a zombie.
pid_alive() {
  local pid=$1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/status ]] || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}

# wait_gone PID SECONDS: wait until the process is gone; false on timeout.
wait_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  while pid_alive "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

newest_pg_bindir() {
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/initdb && -x $d/pg_ctl ]] || continue
    if [[ -z $best ]] || [[ $(printf '%s\n%s\n' "$best" "$d" | sort -V | tail -n 1) == "$d" ]]; then
      best=$d
    fi
  done
  if [[ -z $best ]] && command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    [[ -n $d && -x $d/initdb ]] && best=$d
  fi
  [[ -n $best ]] || die "no PostgreSQL server found under /usr/lib/postgresql (run scripts/install-deps.sh test)"
  echo "$best"
}

http_code() { # URL [curl args...]: print the HTTP status code (000 if no answer)
  local url=$1
  shift
  curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --connect-timeout 2 --max-time 5 "$@" "$url" || true
}

# ---------------------------------------------------------------- directory and state

# resolve_dir [DIR]: the directory of a running set of services.
resolve_dir() {
  local d=${1:-${SPDLOG_EXT_SERVICES_DIR:-}}
  [[ -n $d ]] || die "no services directory: pass it as argument or set SPDLOG_EXT_SERVICES_DIR (source the env file written by 'scripts/services.sh start')"
  [[ -d $d ]] || return 1
  [[ -e $d/$MARKER ]] || die "$d was not created by services.sh (no $MARKER file); refusing to touch it"
  DIR=$(cd "$d" && pwd -P)
}

load_state() {
  if [[ -r $DIR/state ]]; then
    # shellcheck source=/dev/null
    . "$DIR/state"
  fi
  PG_DATA=$DIR/pg/data
}

save_state() {
  {
    printf 'PG_USER=%q\n' "$PG_USER"
    printf 'INFLUX_USER=%q\n' "$INFLUX_USER"
    printf 'INFLUXD=%q\n' "$INFLUXD"
    printf 'PG_BINDIR=%q\n' "$PG_BINDIR"
    printf 'PG_PORT=%q\n' "$PG_PORT"
    printf 'INFLUX_PORT=%q\n' "$INFLUX_PORT"
    printf 'INFLUX_RPC_PORT=%q\n' "$INFLUX_RPC_PORT"
  } >"$DIR/state.tmp"
  mv -f "$DIR/state.tmp" "$DIR/state"
}

write_env() {
  {
    printf '# Written by %s start. Source it: . %q\n' "$SCRIPT_PATH" "$DIR/env"
    printf 'export SPDLOG_EXT_SERVICES_DIR=%q\n' "$DIR"
    printf 'export SPDLOG_EXT_SERVICES_SCRIPT=%q\n' "$SCRIPT_PATH"
    printf 'export SPDLOG_EXT_TEST_PG_URL=%q\n' "postgresql://postgres@127.0.0.1:$PG_PORT/$DB_NAME"
    printf 'export SPDLOG_EXT_TEST_PG_TLS_URL=%q\n' "postgresql://$PG_SCRAM_USER:$(cat "$DIR/pg/tls/scram_password")@127.0.0.1:$PG_PORT/$DB_NAME?sslmode=verify-full&sslrootcert=$DIR/pg/tls/ca.pem"
    printf 'export SPDLOG_EXT_TEST_PG_BINDIR=%q\n' "$PG_BINDIR"
    printf 'export SPDLOG_EXT_TEST_PG_DATA=%q\n' "$PG_DATA"
    printf 'export SPDLOG_EXT_TEST_PG_PORT=%q\n' "$PG_PORT"
    printf 'export SPDLOG_EXT_TEST_INFLUX_URL=%q\n' "http://127.0.0.1:$INFLUX_PORT"
    printf 'export SPDLOG_EXT_TEST_INFLUX_PORT=%q\n' "$INFLUX_PORT"
    printf 'export SPDLOG_EXT_TEST_INFLUX_DB=%q\n' "$DB_NAME"
  } >"$DIR/env.tmp"
  chmod 644 "$DIR/env.tmp"
  mv -f "$DIR/env.tmp" "$DIR/env"
}

# ---------------------------------------------------------------- PostgreSQL

# True if the postmaster of $PG_DATA runs (a killed, not yet reaped one does not count).
pg_running() {
  local pid
  [[ -d $PG_DATA && -n $PG_BINDIR ]] || return 1
  pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)
  pid_alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]] || return 1
  (cd "$DIR" && as_user "$PG_USER" "$PG_BINDIR/pg_ctl" -D "$PG_DATA" status) >/dev/null 2>&1
}

pg_ready() {
  as_user "$PG_USER" "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -t 2 >/dev/null 2>&1
}

pg_write_conf() {
  local sockdir=${DIR//\'/\'\'}/pg/run
  local tlsdir=${DIR//\'/\'\'}/pg/tls
  cat >"$PG_DATA/spdlog_ext.conf" <<EOF || return 1
# Written by services.sh: throwaway test server, reachable on 127.0.0.1 only.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$sockdir'
unix_socket_permissions = 0700
# fsync and full-page writes only protect against an OS crash; the tests crash the server
# process (pg_ctl stop -m immediate), where the OS keeps every write. synchronous_commit stays
# on: without it the server acknowledges commits it can then lose in such a crash.
fsync = off
full_page_writes = off
logging_collector = off
log_line_prefix = '%m [%p] '
# TLS with a throwaway CA (pg_make_tls); the SCRAM test user may only connect over it.
ssl = on
ssl_cert_file = '$tlsdir/server.pem'
ssl_key_file = '$tlsdir/server.key'
password_encryption = 'scram-sha-256'
EOF
  if is_root; then chown "$PG_USER:" "$PG_DATA/spdlog_ext.conf" || return 1; fi
}

# A postmaster that was killed (not stopped) leaves postmaster.pid behind, and
# until its parent reaps it (PID 1 in a container may take a while) PostgreSQL
# takes the zombie for a running server. Wait for it, then drop the stale file.
pg_clear_stale_pidfile() {
  local pid deadline=$((SECONDS + 15))
  pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  pid_alive "$pid" && return 0
  while [[ -e /proc/$pid ]] && ((SECONDS < deadline)); do sleep 0.2; done
  if [[ -e /proc/$pid ]]; then
    log "postmaster $pid is dead but not reaped; removing its stale postmaster.pid"
    rm -f "$PG_DATA/postmaster.pid"
  fi
}

# Start the server (data directory already initialised); false on failure.
pg_start_server() {
  pg_clear_stale_pidfile
  (cd "$DIR" && as_user "$PG_USER" "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -l "$DIR/pg/postgres.log" \
    -w -t "$TIMEOUT" start) >>"$DIR/pg/pg_ctl.log" 2>&1 </dev/null || return 1
  local deadline=$((SECONDS + TIMEOUT))
  until pg_ready; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

pg_fail() {
  log "PostgreSQL failed to $1"
  show_log "$DIR/pg/initdb.log" 20
  show_log "$DIR/pg/pg_ctl.log" 20
  show_log "$DIR/pg/postgres.log" 40
}

pg_init_and_start() {
  mkdir -p "$DIR/pg/run" || return 1
  if is_root; then chown -R "$PG_USER:" "$DIR/pg" || return 1; fi
  chmod 700 "$DIR/pg/run" || return 1
  if ! as_user "$PG_USER" test -w "$DIR/pg"; then
    log "user $PG_USER cannot write $DIR/pg (is a parent directory private?)"
    return 1
  fi
  log "initdb ($PG_BINDIR, user $PG_USER)"
  if ! (cd "$DIR" && as_user "$PG_USER" "$PG_BINDIR/initdb" -D "$PG_DATA" --auth=trust -U postgres \
    --encoding=UTF8 --locale=C --no-sync) >"$DIR/pg/initdb.log" 2>&1 </dev/null; then
    pg_fail "initialise its data directory"
    return 1
  fi
  printf "\ninclude = 'spdlog_ext.conf'\n" >>"$PG_DATA/postgresql.conf" || return 1
  pg_make_tls || return 1
  # First match wins: the SCRAM user over TLS only, everyone else as initdb set it up (trust).
  { printf 'hostssl all %s 127.0.0.1/32 scram-sha-256\n' "$PG_SCRAM_USER"
    printf 'host all %s 127.0.0.1/32 reject\n' "$PG_SCRAM_USER"
    cat "$PG_DATA/pg_hba.conf"; } >"$PG_DATA/pg_hba.conf.new" &&
    mv -f "$PG_DATA/pg_hba.conf.new" "$PG_DATA/pg_hba.conf" || return 1
  if is_root; then chown "$PG_USER:" "$PG_DATA/pg_hba.conf" || return 1; fi

  local attempt
  for attempt in 1 2 3; do
    pg_write_conf || return 1
    save_state || return 1
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    if pg_start_server; then
      break
    fi
    if ((attempt < 3)) && grep -qi 'address already in use' "$DIR/pg/postgres.log" 2>/dev/null; then
      log "port $PG_PORT was taken meanwhile; trying another one"
      mv -f "$DIR/pg/postgres.log" "$DIR/pg/postgres.log.attempt$attempt"
      pick_port PG_PORT
      continue
    fi
    pg_fail "start"
    return 1
  done

  if ! as_user "$PG_USER" "$PG_BINDIR/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$DB_NAME" \
    >>"$DIR/pg/pg_ctl.log" 2>&1 </dev/null; then
    pg_fail "create database $DB_NAME"
    return 1
  fi
  # The TLS + SCRAM user of the exit tests: a password login that may create the sink's tables.
  if ! as_user "$PG_USER" "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
    -U postgres -d "$DB_NAME" >>"$DIR/pg/pg_ctl.log" 2>&1 </dev/null <<SQL; then
CREATE ROLE $PG_SCRAM_USER LOGIN PASSWORD '$(cat "$DIR/pg/tls/scram_password")';
GRANT CREATE, USAGE ON SCHEMA public TO $PG_SCRAM_USER;
SQL
    pg_fail "create the SCRAM user"
    return 1
  fi
}

# A throwaway CA and a server certificate for 127.0.0.1 in $DIR/pg/tls, and the SCRAM user's
# random password (hex: nothing to percent-encode in a URL).
pg_make_tls() {
  local t=$DIR/pg/tls
  mkdir -p "$t" || return 1
  (
    cd "$t" &&
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 7 \
        -subj '/CN=spdlog_ext test PostgreSQL CA' &&
      openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=127.0.0.1' &&
      printf 'subjectAltName=IP:127.0.0.1\n' >san.ext &&
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
        -days 7 -extfile san.ext &&
      openssl rand -hex 16 >scram_password
  ) >>"$DIR/pg/tls.log" 2>&1 </dev/null || {
    show_log "$DIR/pg/tls.log" 20
    return 1
  }
  chmod 600 "$t/server.key" "$t/ca.key" || return 1
  chmod 644 "$t/ca.pem" "$t/server.pem" || return 1
  if is_root; then chown -R "$PG_USER:" "$t" || return 1; fi
}

# pg_stop MODE: stop PostgreSQL (fast or immediate); kill it as last resort.
pg_stop() {
  local mode=$1 pid
  [[ -f $PG_DATA/postmaster.pid && -n $PG_BINDIR ]] || return 0
  if pg_running; then
    (cd "$DIR" && as_user "$PG_USER" "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m "$mode" -w -t 30 stop) \
      >>"$DIR/pg/pg_ctl.log" 2>&1 </dev/null ||
      (cd "$DIR" && as_user "$PG_USER" "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop) \
        >>"$DIR/pg/pg_ctl.log" 2>&1 </dev/null || true
  fi
  pid=$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)
  if pid_alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]]; then
    log "PostgreSQL (pid $pid) did not stop; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || log "PostgreSQL pid $pid is still there"
  fi
}

# ---------------------------------------------------------------- InfluxDB

influx_pid() { cat "$DIR/influx/influxd.pid" 2>/dev/null || true; }

influx_running() {
  local pid
  pid=$(influx_pid)
  pid_alive "$pid" && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == influxd ]]
}

influx_write_conf() {
  local d=${DIR//\\/\\\\}
  d=${d//\"/\\\"}
  cat >"$DIR/influx/influxdb.conf" <<EOF
# Written by services.sh: throwaway test server, reachable on 127.0.0.1 only.
# Upstream calls the first key reporting-disabled, Debian's build reporting-enabled.
reporting-disabled = true
reporting-enabled = false
bind-address = "127.0.0.1:$INFLUX_RPC_PORT"

[meta]
  dir = "$d/influx/meta"
  retention-autocreate = true
  logging-enabled = false

[data]
  dir = "$d/influx/data"
  wal-dir = "$d/influx/wal"
  wal-fsync-delay = "0s"
  index-version = "inmem"
  query-log-enabled = false
  trace-logging-enabled = false

[coordinator]
  log-queries-after = "0s"

[retention]
  enabled = true

[shard-precreation]
  enabled = true

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:$INFLUX_PORT"
  auth-enabled = false
  log-enabled = false
  suppress-write-log = true
  write-tracing = false
  pprof-enabled = false
  https-enabled = false
  unix-socket-enabled = false

[ifql]
  enabled = false
  bind-address = "127.0.0.1:$INFLUX_RPC_PORT"

[logging]
  level = "warn"
  suppress-logo = true

[[graphite]]
  enabled = false
  bind-address = "127.0.0.1:$INFLUX_RPC_PORT"

[[collectd]]
  enabled = false
  bind-address = "127.0.0.1:$INFLUX_RPC_PORT"

[[opentsdb]]
  enabled = false
  bind-address = "127.0.0.1:$INFLUX_RPC_PORT"

[[udp]]
  enabled = false
  bind-address = "127.0.0.1:$INFLUX_RPC_PORT"

[continuous_queries]
  enabled = true
  log-enabled = false
EOF
}

# Launch influxd in its own session and wait until /ping answers 204.
influx_start_server() {
  local pid deadline code
  [[ -x $INFLUXD ]] || {
    log "influxd not found (run scripts/install-deps.sh test)"
    return 1
  }
  printf -- '---- %s: starting influxd on 127.0.0.1:%s\n' "$(date '+%F %T')" "$INFLUX_PORT" >>"$DIR/influx/influxd.log"
  # A simple command, so $! is the pid that env, setpriv and setsid exec into:
  # influxd. (A non-interactive shell never makes an async command a
  # process-group leader, so setsid does not need to fork.)
  local RUNAS
  user_prefix "$INFLUX_USER"
  cd "$DIR" || return 1
  "${RUNAS[@]}" setsid "$INFLUXD" run -config "$DIR/influx/influxdb.conf" \
    >>"$DIR/influx/influxd.log" 2>&1 </dev/null &
  pid=$!
  disown "$pid" 2>/dev/null || true
  cd "$OLDPWD" || true
  echo "$pid" >"$DIR/influx/influxd.pid"
  deadline=$((SECONDS + TIMEOUT))
  while :; do
    code=$(http_code "http://127.0.0.1:$INFLUX_PORT/ping")
    if [[ $code == 204 ]]; then
      return 0
    fi
    if ! pid_alive "$pid"; then
      log "influxd exited during startup"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "influxd did not answer /ping with 204 within ${TIMEOUT}s (last answer: $code)"
      return 1
    fi
    sleep 0.2
  done
}

influx_init_and_start() {
  mkdir -p "$DIR/influx/meta" "$DIR/influx/data" "$DIR/influx/wal" || return 1
  : >>"$DIR/influx/influxd.log"
  if is_root; then chown -R "$INFLUX_USER:" "$DIR/influx" || return 1; fi
  if ! as_user "$INFLUX_USER" test -w "$DIR/influx/data"; then
    log "user $INFLUX_USER cannot write $DIR/influx (is a parent directory private?)"
    return 1
  fi
  local attempt body
  for attempt in 1 2 3; do
    influx_write_conf || return 1
    save_state || return 1
    log "starting InfluxDB on 127.0.0.1:$INFLUX_PORT (user $INFLUX_USER)"
    if influx_start_server; then
      break
    fi
    influx_stop KILL
    if ((attempt < 3)) && tail -n 20 "$DIR/influx/influxd.log" | grep -qi 'address already in use'; then
      log "a port was taken meanwhile; trying others"
      pick_port INFLUX_PORT
      pick_port INFLUX_RPC_PORT
      continue
    fi
    log "InfluxDB failed to start"
    show_log "$DIR/influx/influxd.log" 40
    return 1
  done

  body=$(curl -sS --noproxy '*' --max-time 10 -XPOST "http://127.0.0.1:$INFLUX_PORT/query" \
    --data-urlencode "q=CREATE DATABASE $DB_NAME" 2>&1) || true
  if [[ $body != *'"results"'* || $body == *'"error"'* ]]; then
    log "InfluxDB: CREATE DATABASE $DB_NAME failed: $body"
    show_log "$DIR/influx/influxd.log" 40
    return 1
  fi
}

# influx_stop SIGNAL: send SIGNAL (TERM or KILL) to influxd and wait until it is gone.
influx_stop() {
  local sig=$1 pid
  pid=$(influx_pid)
  if influx_running; then
    kill -s "$sig" "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 30; then
      log "influxd (pid $pid) did not stop on SIG$sig; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || log "influxd pid $pid is still there"
    fi
  fi
  rm -f "$DIR/influx/influxd.pid"
}

# ---------------------------------------------------------------- commands

# shellcheck disable=SC2317 # called by a trap in cmd_start
start_interrupted() {
  trap '' INT TERM HUP PIPE
  influx_stop KILL 2>/dev/null || true
  pg_stop immediate 2>/dev/null || true
  log "start interrupted; servers stopped, directory $DIR left behind" || true
  exit 1
}

cmd_start() {
  local want=${1:-${SPDLOG_EXT_SERVICES_DIR:-}}
  if [[ -n $want ]]; then
    if [[ -d $want && -e $want/$MARKER ]]; then
      resolve_dir "$want"
      load_state
      log "reusing $DIR: stopping whatever still runs there and wiping it"
      influx_stop KILL
      pg_stop immediate
      find "$DIR" -mindepth 1 -delete
    elif [[ -d $want ]]; then
      [[ -z $(ls -A "$want") ]] || die "$want exists, is not empty and was not created by services.sh; refusing to use it"
    else
      mkdir -p "$want"
    fi
    DIR=$(cd "$want" && pwd -P)
  else
    DIR=$(mktemp -d /tmp/spdlog_ext_services.XXXXXX)
  fi
  touch "$DIR/$MARKER"
  chmod 755 "$DIR"
  # Interrupted half-way: do not leave servers behind.
  trap 'start_interrupted' INT TERM HUP PIPE

  command -v curl >/dev/null 2>&1 || die "curl not found (run scripts/install-deps.sh test)"
  INFLUXD=$(command -v influxd) || die "influxd not found (run scripts/install-deps.sh test)"
  PG_BINDIR=$(newest_pg_bindir)
  PG_DATA=$DIR/pg/data
  PG_USER=$(pick_user postgres)
  INFLUX_USER=$(pick_user influxdb)
  pick_port PG_PORT
  pick_port INFLUX_PORT
  pick_port INFLUX_RPC_PORT
  save_state

  if ! pg_init_and_start; then
    pg_stop immediate
    die "could not start PostgreSQL; logs kept in $DIR (remove it with: $SCRIPT_PATH stop $DIR)"
  fi
  if ! influx_init_and_start; then
    influx_stop KILL
    pg_stop immediate
    die "could not start InfluxDB; logs kept in $DIR (remove it with: $SCRIPT_PATH stop $DIR)"
  fi
  write_env
  trap - INT TERM HUP PIPE
  log "PostgreSQL: postgresql://postgres@127.0.0.1:$PG_PORT/$DB_NAME"
  log "InfluxDB:   http://127.0.0.1:$INFLUX_PORT (database $DB_NAME)"
  log "environment: . $DIR/env    stop with: $SCRIPT_PATH stop $DIR"
  echo "$DIR"
}

cmd_stop() {
  if ! resolve_dir "${1:-}"; then
    log "${1:-${SPDLOG_EXT_SERVICES_DIR:-}} does not exist; nothing to stop"
    return 0
  fi
  load_state
  influx_stop TERM
  pg_stop fast
  case $DIR in
  / | "" | /tmp | /home | /root | /var | /usr) die "refusing to remove $DIR" ;;
  esac
  rm -rf --one-file-system "$DIR"
  log "stopped and removed $DIR"
}

cmd_status() {
  resolve_dir "${1:-}" || die "${1:-${SPDLOG_EXT_SERVICES_DIR:-}} does not exist"
  load_state
  local ok=0 code
  echo "directory:  $DIR"
  if pg_running; then
    if pg_ready; then
      echo "postgresql: running (pid $(head -n 1 "$PG_DATA/postmaster.pid")), accepting connections on 127.0.0.1:$PG_PORT"
    else
      echo "postgresql: running (pid $(head -n 1 "$PG_DATA/postmaster.pid")) but not accepting connections on 127.0.0.1:$PG_PORT"
      ok=1
    fi
  else
    echo "postgresql: stopped (port $PG_PORT)"
    ok=1
  fi
  if influx_running; then
    code=$(http_code "http://127.0.0.1:$INFLUX_PORT/ping")
    echo "influxdb:   running (pid $(influx_pid)), /ping on 127.0.0.1:$INFLUX_PORT answers $code"
    [[ $code == 204 ]] || ok=1
  else
    echo "influxdb:   stopped (port $INFLUX_PORT)"
    ok=1
  fi
  ((ok == 0)) || exit 3
}

cmd_env() {
  resolve_dir "${1:-}" || die "${1:-${SPDLOG_EXT_SERVICES_DIR:-}} does not exist"
  [[ -r $DIR/env ]] || die "$DIR/env does not exist (did start finish?)"
  cat "$DIR/env"
}

cmd_logs() {
  local lines=${1:-40}
  [[ $lines =~ ^[0-9]+$ ]] || die "logs: N must be a number"
  resolve_dir "${2:-}" || die "${2:-${SPDLOG_EXT_SERVICES_DIR:-}} does not exist"
  show_log "$DIR/pg/postgres.log" "$lines"
  show_log "$DIR/influx/influxd.log" "$lines"
}

cmd_pg_stop_immediate() {
  resolve_dir "${1:-}" || die "${1:-${SPDLOG_EXT_SERVICES_DIR:-}} does not exist"
  load_state
  if ! pg_running; then
    log "PostgreSQL is not running"
    return 0
  fi
  pg_stop immediate
  if pg_running; then die "PostgreSQL did not stop"; fi
  log "PostgreSQL stopped (immediate)"
}

cmd_pg_start() {
  resolve_dir "${1:-}" || die "${1:-${SPDLOG_EXT_SERVICES_DIR:-}} does not exist"
  load_state
  [[ -f $PG_DATA/PG_VERSION ]] || die "no PostgreSQL data directory in $DIR"
  if pg_running && pg_ready; then
    log "PostgreSQL is already running on 127.0.0.1:$PG_PORT"
    return 0
  fi
  if ! pg_start_server; then
    pg_fail "restart"
    exit 1
  fi
  log "PostgreSQL running on 127.0.0.1:$PG_PORT"
}

cmd_influx_stop() {
  resolve_dir "${1:-}" || die "${1:-${SPDLOG_EXT_SERVICES_DIR:-}} does not exist"
  load_state
  if ! influx_running; then
    log "InfluxDB is not running"
    return 0
  fi
  influx_stop KILL
  log "InfluxDB stopped (killed)"
}

cmd_influx_start() {
  resolve_dir "${1:-}" || die "${1:-${SPDLOG_EXT_SERVICES_DIR:-}} does not exist"
  load_state
  [[ -f $DIR/influx/influxdb.conf ]] || die "no InfluxDB configuration in $DIR"
  if influx_running && [[ $(http_code "http://127.0.0.1:$INFLUX_PORT/ping") == 204 ]]; then
    log "InfluxDB is already running on 127.0.0.1:$INFLUX_PORT"
    return 0
  fi
  influx_stop KILL
  if ! influx_start_server; then
    influx_stop KILL
    log "InfluxDB failed to restart"
    show_log "$DIR/influx/influxd.log" 40
    exit 1
  fi
  log "InfluxDB running on 127.0.0.1:$INFLUX_PORT"
}

main() {
  local cmd=${1:-}
  [[ $# -gt 0 ]] && shift
  case $cmd in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  status) cmd_status "$@" ;;
  env) cmd_env "$@" ;;
  logs) cmd_logs "$@" ;;
  pg-stop-immediate) cmd_pg_stop_immediate "$@" ;;
  pg-start) cmd_pg_start "$@" ;;
  influx-stop) cmd_influx_stop "$@" ;;
  influx-start) cmd_influx_start "$@" ;;
  -h | --help | help)
    usage
    exit 0
    ;;
  *)
    [[ -z $cmd ]] || log "unknown command: $cmd"
    usage >&2
    exit 2
    ;;
  esac
}

main "$@"
