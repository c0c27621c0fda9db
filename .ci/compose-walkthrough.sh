#!/usr/bin/env bash
# Proves the README's `docker compose up` walkthrough on a real Docker engine:
#   1. lint: `docker compose config -q`, hadolint on the Dockerfile;
#   2. build the image, start demo-as and scoped-tools-server and wait until both are healthy;
#   3. run the demo-client service (the step-up story, once) and require exit code 0 and all three
#      escalations (401 -> notes:read, 403 -> notes:write, 403 -> notes:delete) in its log;
#   4. from the host (tests/compose/): the official `mcp` SDK client climbs the same ladder
#      against the published ports; demo-as is restarted and a token issued before the restart
#      must still work at the resource server; `demo-client story --browser` passes with
#      Debian's chromium standing in for the user's browser;
#   5. `docker compose run --rm demo-client story` tells the story again;
#   6. always (also on failure or Ctrl-C): `docker compose down -v` and stop the engine.
#
# The engine comes from ../shared/tools/local-docker.sh (no container registry needed).
# Usage: bash .ci/compose-walkthrough.sh
set -euo pipefail
cd "$(dirname "$0")/.."

LOCAL_DOCKER=../shared/tools/local-docker.sh
STARTED=$SECONDS
step() { printf '\n== [%3ss] %s\n' "$((SECONDS - STARTED))" "$*"; }
fail() { echo "compose-walkthrough: FAIL: $*" >&2; exit 1; }

# The story's log must show the three escalations of the ladder, each an HTTP status line followed
# by its challenge: the 401 asking for notes:read, a 403 insufficient_scope naming notes:write for
# create_note, one naming notes:delete for delete_note; and the story's own verdict.
check_story_log() {
  local log=$1 missing=0
  expect_challenge() {  # $1 status line (regex), $2 challenge (regex), $3 label
    if ! grep -E -A1 "$1" "$log" | grep -Eq "$2"; then
      echo "story log: missing $3" >&2
      missing=1
    fi
  }
  expect_challenge 'HTTP 401 for ' 'challenge: Bearer .*scope="notes:read"' '401 -> notes:read'
  expect_challenge 'HTTP 403 for tools/call create_note' \
    'challenge: Bearer error=insufficient_scope, scope="notes:write"' '403 -> notes:write'
  expect_challenge 'HTTP 403 for tools/call delete_note' \
    'challenge: Bearer error=insufficient_scope, scope="notes:delete"' '403 -> notes:delete'
  grep -q 'Story complete: all' "$log" || { echo "story log: no 'Story complete'" >&2; missing=1; }
  [ "$missing" = 0 ] || fail "the story log does not show all three escalations"
  echo "ok: the story log shows 401 -> notes:read, 403 -> notes:write, 403 -> notes:delete"
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "${DOCKER_HOST:-}" ]; then
    if [ "$rc" -ne 0 ]; then
      echo "---- compose state and logs at failure ----" >&2
      docker compose ps -a >&2 || true
      docker compose logs --no-color --tail=150 >&2 || true
    fi
    docker compose down -v --remove-orphans >&2 || true
  fi
  "$LOCAL_DOCKER" down || true
  echo "compose-walkthrough: exit $rc after $((SECONDS - STARTED))s" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "browser for the --browser story: .ci/install-browser.sh"
bash .ci/install-browser.sh

step "engine: local-docker.sh up"
eval "$("$LOCAL_DOCKER" up)"
docker version --format 'engine {{.Server.Version}}'
docker compose version

# The issuer is http://127.0.0.1:9000 for everyone, so the published ports cannot move: say so
# plainly instead of letting compose fail with a bind error halfway through.
for port in 9000 8000; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "port $port on 127.0.0.1 is already in use (a demo-as or scoped-tools-server running outside compose?)"
  fi
done

step "lint: docker compose config -q, hadolint"
docker compose config -q
hadolint Dockerfile

step "build and start the servers: docker compose up -d --build --wait demo-as scoped-tools-server"
# The servers are named because `--wait` treats any container that exits as a failure, even the
# one-shot demo-client exiting 0 (Compose v2.40: "container ... exited (0)", exit status 1).
docker compose up -d --build --wait --wait-timeout 180 demo-as scoped-tools-server

step "the story inside compose: demo-client service"
docker compose up -d demo-client
docker compose wait demo-client >/dev/null || true
client_id=$(docker compose ps -a -q demo-client)
client_exit=$(docker inspect --format '{{.State.ExitCode}}' "$client_id")
docker compose logs --no-color --no-log-prefix demo-client >/tmp/compose-walkthrough-story.log
cat /tmp/compose-walkthrough-story.log
[ "$client_exit" = 0 ] || fail "demo-client exited $client_exit"
check_story_log /tmp/compose-walkthrough-story.log

step "host: mcp SDK client up the ladder, token survives a demo-as restart, story --browser"
# RUN_DOCKER_TESTS enables the docker-marked tests; COMPOSE_WALKTHROUGH tells them the stack is up
# and lets them restart services with `docker compose`.
COMPOSE_WALKTHROUGH=1 RUN_DOCKER_TESTS=1 \
  uv run pytest tests/compose -p no:cacheprovider -v -rs

step "docker compose run --rm demo-client story (the README's 'tell it again')"
docker compose run --rm demo-client story >/tmp/compose-walkthrough-story-again.log 2>&1 \
  || { cat /tmp/compose-walkthrough-story-again.log; fail "docker compose run --rm demo-client story failed"; }
echo "ok: the story ran again"

step "done: all checks passed"
