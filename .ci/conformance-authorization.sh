#!/usr/bin/env bash
# The official MCP conformance suite's authorization-server check (0.2.0-alpha.12,
# `conformance authorization`) against demo_as: metadata (issuer, code, S256, and the CIMD flag,
# a WARNING if absent) and one authorization-code grant with PKCE, iss and no-store checks.
#
# demo_as runs with --auto-approve on free loopback ports with a throwaway database, a public
# client is registered for the suite's callback, and this script plays the browser: it fetches
# the authorize URL the suite prints, following the redirect to the suite's callback server
# (HTTP through the project's own httpx2, so no curl is needed).
# Any FAILURE or WARNING fails this script. Prints one plain line: "conformance authorization: ...".
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=conformance-install.sh
source .ci/conformance-install.sh  # NODE, CONF_ALPHA, PRELOAD, WORK
uv sync --locked --quiet

RESULTS=$WORK/results-authorization
rm -rf "$RESULTS" && mkdir -p "$RESULTS"
free_port() { .venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
AS_PORT=$(free_port)
CALLBACK_PORT=$(free_port)
ISSUER=http://127.0.0.1:$AS_PORT
RESOURCE=http://127.0.0.1:8000/mcp

.venv/bin/demo-as --port "$AS_PORT" --issuer "$ISSUER" --data-dir "$RESULTS/data" \
  --resource "$RESOURCE" --auto-approve >"$RESULTS/demo-as.log" 2>&1 &
AS_PID=$!
trap 'kill "$AS_PID" 2>/dev/null || true' EXIT
# HTTP from the project's own environment (httpx2): a fresh machine may have no curl.
http() { .venv/bin/python -c "import httpx2, sys; $1" "${@:2}"; }
for _ in $(seq 100); do
  http 'sys.exit(httpx2.get(sys.argv[1]).status_code != 200)' "$ISSUER/health" 2>/dev/null && break
  sleep 0.2
done

CLIENT_ID=$(http '
r = httpx2.post(sys.argv[1] + "/register", json={"redirect_uris": [sys.argv[2]],
    "token_endpoint_auth_method": "none", "client_name": "conformance authorization"})
r.raise_for_status()
print(r.json()["client_id"])' "$ISSUER" "http://127.0.0.1:$CALLBACK_PORT/callback")

"$NODE" --require "$PRELOAD" "$CONF_ALPHA" authorization --url "$ISSUER" --client-id "$CLIENT_ID" \
  --resource "$RESOURCE" -p "$CALLBACK_PORT" -o "$RESULTS" >"$RESULTS/suite.log" 2>&1 &
SUITE_PID=$!

# Play the browser: wait for the printed authorize URL, then follow the AS's redirect to the
# suite's callback (auto-approve answers 302 with code, state and iss).
for _ in $(seq 150); do
  url=$(grep -m1 "^$ISSUER/authorize?" "$RESULTS/suite.log" || true)
  if [ -n "$url" ]; then
    http 'httpx2.get(sys.argv[1], follow_redirects=True).raise_for_status()' "$url"
    break
  fi
  kill -0 "$SUITE_PID" 2>/dev/null || break
  sleep 0.2
done

status=0
wait "$SUITE_PID" || status=$?
problems=$(cat "$RESULTS"/*/checks.json 2>/dev/null | .venv/bin/python -c '
import json, sys
text = sys.stdin.read()
decoder, checks, at = json.JSONDecoder(), [], 0
while at < len(text):  # several checks.json files, concatenated
    if text[at].isspace():
        at += 1
        continue
    parsed, at = decoder.raw_decode(text, at)
    checks.extend(parsed)
bad = [c for c in checks if c["status"] in ("FAILURE", "WARNING")]
for c in bad:
    print("  %s: %s: %s" % (c["status"], c["id"], c.get("errorMessage") or ""))
if not checks:
    print("  no checks.json was written")
')
if [ "$status" -ne 0 ] || [ -n "$problems" ]; then
  [ -n "$problems" ] && echo "$problems"
  echo "conformance authorization: FAILED (exit $status; log: ${RESULTS#"$PWD"/}/suite.log)"
  exit 1
fi
echo "conformance authorization: passed with no failure and no warning"
