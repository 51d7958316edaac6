#!/usr/bin/env bash
# GraphQL-over-HTTP compliance audit (graphql-http's serverAudits) against a
# freshly built server on a throwaway embedded database.
#
#   bash scripts/audit.sh
#
# Needs Go, Node (18 or later) and npm. Exit status is the audit's: 0 when
# every MUST and SHOULD audit passes, non-zero otherwise (see
# scripts/graphql-http-audit/audit.mjs). Progress goes to stderr; stdout is
# the audit report, whose last line is `N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."

audit_dir=scripts/graphql-http-audit
name=audit.sh
source scripts/lib/serve.sh

npm_install "$audit_dir"
start_server
say "auditing $url"
status=0
node "$audit_dir/audit.mjs" "$url" || status=$?
exit "$status"
