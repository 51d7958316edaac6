#!/usr/bin/env bash
# The real graphql-ws client (npm graphql-ws, what Apollo Client and urql use)
# against a freshly built server on a throwaway embedded database, with
# ACCESS_TOKEN_TTL=10s: subscriptions survive token expiry (header tokens
# with a lazy connectionParams, and cookies), a refused subscription gets
# `error` while the socket's others go on, and logout ends the socket for
# good. See scripts/graphql-ws-test/client.test.mjs.
#
#   bash scripts/ws-client-test.sh
#
# Needs Go, Node (20 or later) and npm; takes about half a minute (it waits
# for two token expiries). Exit status is the test run's.
set -euo pipefail
cd "$(dirname "$0")/.."

test_dir=scripts/graphql-ws-test
ready_timeout=60 # seconds for the server to log "listening"
stop_timeout=20  # seconds for a graceful stop before SIGKILL
origin=http://app.test
admin_email=ws-admin@example.com
admin_password=ws-admin-password-1

say() { printf 'ws-client-test.sh: %s\n' "$*" >&2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coursehub-ws-test.XXXXXX")
server_pid=

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

say "installing graphql-ws (npm ci)"
if ! npm_out=$(cd "$test_dir" && npm ci --no-audit --no-fund --loglevel=error 2>&1); then
  printf '%s\n' "$npm_out" >&2
  say "npm ci failed"
  exit 1
fi

say "building the server"
go build -o "$tmp/server" ./cmd/server

# A clean environment, so nothing exported in the caller's shell (MONGODB_URI,
# APP_ENV, INTROSPECTION, CORS_ORIGINS, …) changes what is tested: the
# server runs with its defaults on an empty embedded database.
log="$tmp/server.log"
env -i PATH="$PATH" HOME="${HOME:-$tmp}" TMPDIR="$tmp" \
  HOST=127.0.0.1 PORT=0 DATA_DIR="$tmp/data" BCRYPT_COST=4 LOG_LEVEL=info \
  ACCESS_TOKEN_TTL=10s WS_SESSION_CHECK_INTERVAL=1s CORS_ORIGINS="$origin" COOKIE_SECURE=false \
  ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password" \
  "$tmp/server" >"$log" 2>"$tmp/server.err" &
server_pid=$!

addr=
deadline=$((SECONDS + ready_timeout))
while [ -z "$addr" ]; do
  addr=$(sed -n 's/.*"msg":"listening".*"addr":"\([^"]*\)".*/\1/p' "$log" | head -n 1)
  [ -n "$addr" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    wait "$server_pid" && code=0 || code=$?
    server_pid=
    cat "$log" "$tmp/server.err" >&2
    say "server exited (status $code) before listening"
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    cat "$log" "$tmp/server.err" >&2
    say "server did not log \"listening\" within ${ready_timeout}s"
    exit 1
  fi
  sleep 0.1
done

url="http://$addr/graphql"
say "testing against $url"
status=0
COURSEHUB_URL="$url" COURSEHUB_ORIGIN="$origin" ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password" \
  node --test --test-reporter=spec "$test_dir/client.test.mjs" || status=$?
if [ "$status" -ne 0 ]; then
  say "failed; the server's log:"
  cat "$log" "$tmp/server.err" >&2
fi
exit "$status"
