# Shared by the scripts that test real clients against a freshly built server
# on a throwaway embedded database (audit.sh, ws-client-test.sh,
# stream-clients-test.sh). Source it after setting `name` (used in messages
# and the temporary folder's name); it sets up $tmp and a clean-up that stops
# the server and removes $tmp on every exit.
#
#   name=audit.sh; source scripts/lib/serve.sh
#   npm_install scripts/graphql-http-audit
#   start_server ACCESS_TOKEN_TTL=10s ...   # sets $url, $log, $server_pid
#
# Timeouts: $ready_timeout seconds for the server to log "listening",
# $stop_timeout for a graceful stop before SIGKILL.

ready_timeout=${ready_timeout:-60}
stop_timeout=${stop_timeout:-20}

say() { printf '%s: %s\n' "$name" "$*" >&2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coursehub-${name%.sh}.XXXXXX")
server_pid=
log="$tmp/server.log"

cleanup() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq $((stop_timeout * 10))); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      say "server did not stop within ${stop_timeout}s; killing it"
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# npm_install DIR installs DIR's locked packages into DIR/node_modules.
npm_install() {
  say "installing $1's packages (npm ci)"
  local out
  if ! out=$(cd "$1" && npm ci --no-audit --no-fund --loglevel=error 2>&1); then
    printf '%s\n' "$out" >&2
    say "npm ci failed"
    exit 1
  fi
}

# show_server_log prints the server's output (after a failure).
show_server_log() { cat "$log" "$tmp/server.err" >&2; }

# start_server [VAR=value ...] builds and starts the server in a clean
# environment, so that nothing exported in the caller's shell (MONGODB_URI,
# APP_ENV, CORS_ORIGINS, …) changes what is tested: its defaults on an empty
# embedded database, plus the given variables. It waits until the server
# listens and sets $url to its /graphql.
start_server() {
  say "building the server"
  go build -o "$tmp/server" ./cmd/server
  env -i PATH="$PATH" HOME="${HOME:-$tmp}" TMPDIR="$tmp" \
    HOST=127.0.0.1 PORT=0 DATA_DIR="$tmp/data" BCRYPT_COST=4 LOG_LEVEL=info "$@" \
    "$tmp/server" >"$log" 2>"$tmp/server.err" &
  server_pid=$!

  local addr= code deadline=$((SECONDS + ready_timeout))
  while [ -z "$addr" ]; do
    addr=$(sed -n 's/.*"msg":"listening".*"addr":"\([^"]*\)".*/\1/p' "$log" | head -n 1)
    [ -n "$addr" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
      wait "$server_pid" && code=0 || code=$?
      server_pid=
      show_server_log
      say "server exited (status $code) before listening"
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      show_server_log
      say "server did not log \"listening\" within ${ready_timeout}s"
      exit 1
    fi
    sleep 0.1
  done
  url="http://$addr/graphql"
}
