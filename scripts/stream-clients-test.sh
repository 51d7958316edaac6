#!/usr/bin/env bash
# Subscriptions over HTTP streams with real clients against a freshly built
# server on a throwaway embedded database: the graphql-sse client (what
# urql's subscriptionExchange uses with it; distinct and single connection
# mode) and Apollo Client's HttpLink (multipart subscriptions).
#
#   bash scripts/stream-clients-test.sh
#
# Needs Go, Node (18 or later) and npm; the clients are installed with npm ci
# into scripts/stream-clients-test/node_modules (gitignored). Exit status: 0 when
# every check passes. Progress goes to stderr; stdout is the report, whose
# last line is `N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."

test_dir=scripts/stream-clients-test
admin_email=admin@example.com
admin_password=sse-admin-password-1
ready_timeout=60 # seconds for the server to log "listening"
stop_timeout=20  # seconds for a graceful stop before SIGKILL

say() { printf 'stream-clients-test.sh: %s\n' "$*" >&2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coursehub-sse.XXXXXX")
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

say "installing the clients (npm ci)"
if ! npm_out=$(cd "$test_dir" && npm ci --no-audit --no-fund --loglevel=error 2>&1); then
  printf '%s\n' "$npm_out" >&2
  say "npm ci failed"
  exit 1
fi

say "building the server"
go build -o "$tmp/server" ./cmd/server

# A clean environment, so nothing exported in the caller's shell (MONGODB_URI,
# APP_ENV, CORS_ORIGINS, …) changes what is tested: the server runs with its
# defaults, a first admin and 10 s access tokens (the minimum, so that the
# expiry check sees one expire) on an empty embedded database.
log="$tmp/server.log"
env -i PATH="$PATH" HOME="${HOME:-$tmp}" TMPDIR="$tmp" \
  HOST=127.0.0.1 PORT=0 DATA_DIR="$tmp/data" BCRYPT_COST=4 LOG_LEVEL=info \
  ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password" ACCESS_TOKEN_TTL=10s \
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
say "testing $url"
status=0
timeout --kill-after=5 120 node "$test_dir/test.mjs" "$url" "$admin_email" "$admin_password" || status=$?
exit "$status"
