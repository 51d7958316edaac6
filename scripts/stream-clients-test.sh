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
name=stream-clients-test.sh
source scripts/lib/serve.sh

npm_install "$test_dir"
# A first admin and 10 s access tokens (the minimum, so that the expiry
# check sees one expire).
start_server ADMIN_EMAIL="$admin_email" ADMIN_PASSWORD="$admin_password" ACCESS_TOKEN_TTL=10s
say "testing $url"
status=0
timeout --kill-after=5 120 node "$test_dir/test.mjs" "$url" "$admin_email" "$admin_password" || status=$?
exit "$status"
