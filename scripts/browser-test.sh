#!/usr/bin/env bash
# Real-browser tests of the example web client (examples/web): headless
# Chromium driven by Playwright (playwright-core) against the built app, served
# by `vite preview`, and freshly built servers on throwaway embedded databases.
#
#   bash scripts/browser-test.sh
#
# Needs Go, Node (20 or later) and npm; installs Debian's chromium (apt-get, as
# root) when /usr/bin/chromium is missing, and the app's packages with npm ci.
# Progress goes to stderr; stdout is the test report, whose last line is
# `N passed, M failed`. Exit status: 0 when every test passed. Screenshots of
# each step go to examples/web/e2e/screenshots/ (gitignored).
#
# Two stacks run side by side:
#   - the main one: the API as configured for local browser work
#     (CORS_ORIGINS=http://127.0.0.1:5173, COOKIE_SECURE=false, a first admin)
#     and the app on http://127.0.0.1:5173;
#   - the expiry one: the same with ACCESS_TOKEN_TTL=10s, and a second build of
#     the app on http://127.0.0.1:5174 pointed at it, so that e2e/expiry.test.mjs
#     sees tokens expire (and sockets close with 4419) within seconds.
# The APIs listen on free ports (PORT=0); the app is built once they listen,
# with VITE_API_URL set to where they are.
set -euo pipefail
cd "$(dirname "$0")/.."

web=examples/web
chromium=/usr/bin/chromium
app_port=5173        # the app's origin must be in the API's CORS_ORIGINS
expiry_app_port=5174
expiry_ttl_seconds=10 # ACCESS_TOKEN_TTL of the expiry stack (the API's minimum)
admin_email=admin@example.com
admin_password=admin-password-1
ready_timeout=60 # seconds for a server to log "listening" / a preview to answer
stop_timeout=20  # seconds for a graceful stop before SIGKILL
test_timeout=900 # seconds for the whole browser test run

say() { printf 'browser-test.sh: %s\n' "$*" >&2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/coursehub-browser.XXXXXX")
pids=()

stop() { # pid name
  local pid=$1 name=$2
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq $((stop_timeout * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name did not stop within ${stop_timeout}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    stop "${pids[$i]}" "process ${pids[$i]}"
  done
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- what the tests need ------------------------------------------------------

if [ ! -x "$chromium" ]; then
  say "installing Debian's chromium (apt-get)"
  sudo=
  [ "$(id -u)" -ne 0 ] && sudo="sudo -n"
  if ! apt_out=$($sudo apt-get update 2>&1 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y chromium 2>&1); then
    printf '%s\n' "$apt_out" | tail -n 20 >&2
    say "could not install chromium"
    exit 1
  fi
fi
say "$("$chromium" --version 2>/dev/null | head -n 1)"

say "installing the app's packages (npm ci)"
if ! npm_out=$(cd "$web" && npm ci --no-audit --no-fund --loglevel=error 2>&1); then
  printf '%s\n' "$npm_out" >&2
  say "npm ci failed"
  exit 1
fi

say "building the server"
go build -o "$tmp/server" ./cmd/server

# --- the APIs -----------------------------------------------------------------

# start_api name cors_origin [VAR=value ...]: starts a server in a clean
# environment (nothing exported in the caller's shell, such as MONGODB_URI or
# APP_ENV, changes what is tested) on an empty embedded database; sets $addr.
start_api() {
  local name=$1 origin=$2
  shift 2
  mkdir -p "$tmp/$name"
  env -i PATH="$PATH" HOME="${HOME:-$tmp}" TMPDIR="$tmp" \
    HOST=127.0.0.1 PORT=0 DATA_DIR="$tmp/$name/data" BCRYPT_COST=4 LOG_LEVEL=info \
    ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password" \
    CORS_ORIGINS="$origin" COOKIE_SECURE=false "$@" \
    "$tmp/server" >"$tmp/$name/server.log" 2>"$tmp/$name/server.err" &
  local pid=$!
  pids+=("$pid")
  addr=
  local deadline=$((SECONDS + ready_timeout))
  while :; do
    addr=$(sed -n 's/.*"msg":"listening".*"addr":"\([^"]*\)".*/\1/p' "$tmp/$name/server.log" | head -n 1)
    [ -n "$addr" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" && code=0 || code=$?
      cat "$tmp/$name/server.log" "$tmp/$name/server.err" >&2
      say "$name server exited (status $code) before listening"
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      cat "$tmp/$name/server.log" "$tmp/$name/server.err" >&2
      say "$name server did not log \"listening\" within ${ready_timeout}s"
      exit 1
    fi
    sleep 0.1
  done
}

start_api main "http://127.0.0.1:$app_port" APP_URL="http://127.0.0.1:$app_port"
api_addr=$addr
start_api expiry "http://127.0.0.1:$expiry_app_port" ACCESS_TOKEN_TTL="${expiry_ttl_seconds}s"
expiry_api_addr=$addr
say "API on http://$api_addr/graphql (expiry stack: http://$expiry_api_addr/graphql)"

# --- the app --------------------------------------------------------------------

say "building the app (codegen, tsc, vite build)"
if ! build_out=$(cd "$web" && VITE_API_URL="http://$api_addr/graphql" npm run build 2>&1); then
  printf '%s\n' "$build_out" >&2
  say "the app's build failed"
  exit 1
fi
if ! build_out=$(cd "$web" && VITE_API_URL="http://$expiry_api_addr/graphql" \
  node_modules/.bin/vite build --outDir "$tmp/app-expiry" --emptyOutDir 2>&1); then
  printf '%s\n' "$build_out" >&2
  say "the app's second build (expiry stack) failed"
  exit 1
fi

# start_preview name port dir: serves a built app with vite preview.
start_preview() {
  local name=$1 port=$2 dir=$3
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    say "port $port is in use (another vite or dev server?); stop it and run again"
    exit 1
  fi
  (cd "$web" && exec node_modules/.bin/vite preview --host 127.0.0.1 --port "$port" --strictPort \
    --outDir "$dir") >"$tmp/$name-preview.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  local deadline=$((SECONDS + ready_timeout))
  until curl -sf -o /dev/null "http://127.0.0.1:$port/"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$tmp/$name-preview.log" >&2
      say "vite preview ($name) exited; is port $port in use?"
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      cat "$tmp/$name-preview.log" >&2
      say "vite preview ($name) did not answer on port $port within ${ready_timeout}s"
      exit 1
    fi
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/$name-preview.log" >&2; say "vite preview ($name) exited"; exit 1; }
}

start_preview main "$app_port" dist
start_preview expiry "$expiry_app_port" "$tmp/app-expiry"

# --- the tests --------------------------------------------------------------------

rm -rf "$web/e2e/screenshots"
say "running the browser tests"
status=0
(
  cd "$web"
  exec env \
    APP_URL="http://127.0.0.1:$app_port" \
    API_URL="http://$api_addr/graphql" \
    IDE_URL="http://$api_addr/" \
    EXPIRY_APP_URL="http://127.0.0.1:$expiry_app_port" \
    EXPIRY_API_URL="http://$expiry_api_addr/graphql" \
    EXPIRY_ACCESS_TOKEN_TTL_SECONDS="$expiry_ttl_seconds" \
    ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password" \
    OUTBOX_DIR="$tmp/main/data/outbox" \
    CHROMIUM="$chromium" \
    timeout --kill-after=10 "$test_timeout" \
    node --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$tmp/report.tap" \
    e2e/*.test.mjs
) || status=$?

count() { sed -n "s/^# $1 \([0-9][0-9]*\)$/\1/p" "$tmp/report.tap" 2>/dev/null | tail -n 1; }
passed=$(count pass)
failed=$(count fail)
cancelled=$(count cancelled)
if [ -z "$passed" ] || [ -z "$failed" ]; then
  # No summary: the runner died (or timed out) before it could count.
  say "the test runner ended (status $status) without a summary"
  passed=${passed:-0}
  failed=$((${failed:-0} + 1))
fi
failed=$((failed + ${cancelled:-0}))

if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
  for name in main expiry; do
    say "last lines of the $name server's log:"
    tail -n 20 "$tmp/$name/server.log" "$tmp/$name/server.err" >&2 || true
  done
  [ "$status" -eq 0 ] && status=1
fi
say "screenshots: $web/e2e/screenshots/"
echo "$passed passed, $failed failed"
exit "$status"
