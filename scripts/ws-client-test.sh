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
origin=http://app.test
admin_email=ws-admin@example.com
admin_password=ws-admin-password-1
name=ws-client-test.sh
source scripts/lib/serve.sh

npm_install "$test_dir"
start_server ACCESS_TOKEN_TTL=10s WS_SESSION_CHECK_INTERVAL=1s CORS_ORIGINS="$origin" COOKIE_SECURE=false \
  ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password"
say "testing against $url"
status=0
COURSEHUB_URL="$url" COURSEHUB_ORIGIN="$origin" ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password" \
  node --test --test-reporter=spec "$test_dir/client.test.mjs" || status=$?
if [ "$status" -ne 0 ]; then
  say "failed; the server's log:"
  show_server_log
fi
exit "$status"
