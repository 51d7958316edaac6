#!/usr/bin/env bash
# Refreshes the GraphiQL assets embedded in the binary (internal/server/ide/vendor)
# from the npm registry. Run it, check the IDE (go run ./cmd/server, open /), commit.
set -euo pipefail
cd "$(dirname "$0")/.."
graphiql=${GRAPHIQL_VERSION:-3.9.0}
react=${REACT_VERSION:-18.3.1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=internal/server/ide/vendor
(cd "$tmp" && npm pack --silent "graphiql@$graphiql" "react@$react" "react-dom@$react" >/dev/null)
for pkg in graphiql-"$graphiql" react-"$react" react-dom-"$react"; do
  mkdir -p "$tmp/$pkg" && tar xzf "$tmp/$pkg.tgz" -C "$tmp/$pkg"
done
cp "$tmp/graphiql-$graphiql/package/graphiql.min.js" "$tmp/graphiql-$graphiql/package/graphiql.min.css" "$out/"
cp "$tmp/react-$react/package/umd/react.production.min.js" "$out/"
cp "$tmp/react-dom-$react/package/umd/react-dom.production.min.js" "$out/"
cp "$tmp/graphiql-$graphiql/package/LICENSE" "$out/LICENSE.graphiql"
cp "$tmp/react-$react/package/LICENSE" "$out/LICENSE.react"
cp "$tmp/react-dom-$react/package/LICENSE" "$out/LICENSE.react-dom"
# The source maps are not shipped; drop the references to them.
sed -i 's|//# sourceMappingURL=.*$||' "$out/graphiql.min.js"
sed -i 's|/\*# sourceMappingURL=.*\*/||' "$out/graphiql.min.css"
echo "vendored graphiql $graphiql, react $react into $out"
