#!/usr/bin/env bash
# Proves the `docker compose up` walkthrough (README.md, docs/workshop.md) on a real Docker engine:
#   1. prerequisites, checked before anything slow: uv, ports 9000 and 8000 free, and a Docker
#      engine with Compose v2 (the one you have, or local-docker.sh from ../shared beside the clone,
#      or from SHARED_DIR if set);
#   2. lint: `docker compose config -q`, hadolint on the Dockerfile;
#   3. build the image, start demo-as and scoped-tools-server and wait until both are healthy;
#   4. run the demo-client service (the step-up story, once) and require exit code 0, all three
#      escalations (401 -> notes:read, 403 -> notes:write, 403 -> notes:delete) in its log, and
#      proof that it talked to the COMPOSE servers: no "embedded mode" line, a `POST /register`
#      in demo-as's log, and the client_id the story registered known to demo-as on :9000; and
#      the lab API at http://127.0.0.1:9000/lab/api/clients grading its client as the story intends;
#   5. from the host (tests/compose/): the official `mcp` SDK client climbs the same ladder
#      against the published ports; demo-as is restarted and a token issued before the restart
#      must still work at the resource server; `demo-client story --browser` passes with
#      Debian's chromium standing in for the user's browser;
#   6. a documented switch command (`... up -d --wait --no-deps scoped-tools-server`) recreates
#      only the service it names, and `docker compose run --rm --no-deps demo-client story` (the
#      README's "tell it again") tells the story against the compose servers again, under that
#      switch, without recreating either server (without --no-deps, `run` recreates a server
#      whose settings differ from the shell's, silently dropping the switch);
#   7. always (also on failure or Ctrl-C): `docker compose down -v`, and stop the engine only if
#      this script started it.
# Usage: bash .ci/compose-walkthrough.sh
set -euo pipefail
cd "$(dirname "$0")/.."

LOCAL_DOCKER=${SHARED_DIR:-../shared}/tools/local-docker.sh
LOCAL_DOCKER_PIDFILE=${LOCAL_DOCKER_HOME:-/var/tmp/local-docker}/dockerd.pid
STARTED=$SECONDS
STARTED_ENGINE=0
step() { printf '\n== [%3ss] %s\n' "$((SECONDS - STARTED))" "$*"; }
fail() { echo "compose-walkthrough: FAIL: $*" >&2; exit 1; }

# --- prerequisites, all checked before anything slow, reported together -----------------------
problems=()
command -v uv >/dev/null 2>&1 || problems+=("uv is not installed (pip install uv)")
# The issuer is http://127.0.0.1:9000 for everyone, so the published ports cannot move.
for port in 9000 8000; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    problems+=("port $port on 127.0.0.1 is in use (a demo-as or scoped-tools-server outside compose? see docs/workshop.md#troubleshooting)")
  fi
done
if docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  ENGINE="your Docker engine ($(docker context show 2>/dev/null || echo default))"
elif [ -x "$LOCAL_DOCKER" ]; then
  ENGINE="local-docker.sh"
else
  problems+=("no Docker engine with Compose v2 answers, and $LOCAL_DOCKER (which starts one) is missing (set SHARED_DIR to the shared folder)")
fi
if [ "${#problems[@]}" -gt 0 ]; then
  echo "compose-walkthrough: cannot start:" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  exit 2
fi

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

# A story that ran in embedded mode (its own in-process servers) passes every check above, so
# prove it talked to the compose servers: it must not say "embedded mode", and demo-as on the
# published port must know the client_id the story registered (an unknown client_id gets the
# 400 "Unknown client" page; a known one without PKCE gets a redirect carrying the error).
check_story_used_compose() {
  local log=$1 client_id status
  if grep -q 'embedded mode' "$log"; then
    fail "the story ran in embedded mode, not against the compose servers"
  fi
  client_id=$(sed -n 's/.*registered once ([a-z-]*): client_id \([^ ,]*\).*/\1/p' "$log" | head -1)
  [ -n "$client_id" ] || fail "the story log names no registered client_id"
  status=$(curl -s -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:9000/authorize?response_type=code&client_id=$client_id")
  # A known client gets the sign-in page (the missing-PKCE error waits for the user to sign in,
  # OAuth 2.1 §7.12.2; docs/security-model.md); an unknown client gets the 400 error page.
  [ "$status" = 200 ] \
    || fail "demo-as on :9000 does not know the story's client $client_id (HTTP $status)"
  echo "ok: the story registered $client_id at the compose demo-as (no embedded mode)"
}

# The lab grades the story's client (docs/lab.md): the narration's last lines name its lab page;
# the lab API must list that client with every rule passing except refresh-rotation-followed,
# which round 4 breaks on purpose (a replayed rotated refresh token), and no warning.
check_story_in_lab() {
  local log=$1 page
  page=$(grep -Eo 'http://127\.0\.0\.1:9000/lab/clients/[^[:space:]]+' "$log" | tail -n 1)
  [ -n "$page" ] || fail "the story's narration does not point to its lab page"
  sleep 2  # the RS reports to the lab at least once a second
  uv run --quiet python - "${page##*/lab/clients/}" <<'PY' || fail "the lab grades the story's client wrongly"
import json, sys, urllib.parse, urllib.request
client_id = urllib.parse.unquote(sys.argv[1])
api = "http://127.0.0.1:9000/lab/api/clients"
listed = {c["client_id"]: c for c in json.load(urllib.request.urlopen(api))}
assert client_id in listed, f"{client_id} is not in {api}"
report = json.load(urllib.request.urlopen(f"{api}/{urllib.parse.quote(client_id, safe='')}/report"))
verdicts = {rule["id"]: rule["verdict"] for rule in report["rules"]}
failed = {r for r, v in verdicts.items() if v == "fail"}
warned = {r for r, v in verdicts.items() if v == "warn"}
assert failed == {"refresh-rotation-followed"} and not warned, verdicts
print(f"ok: the lab lists {client_id}: only refresh-rotation-followed fails (round 4, on purpose)")
PY
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "${DOCKER_HOST:-}${ENGINE_READY:-}" ]; then
    if [ "$rc" -ne 0 ]; then
      echo "---- compose state and logs at failure ----" >&2
      docker compose ps -a >&2 || true
      docker compose logs --no-color --tail=150 >&2 || true
    fi
    docker compose down -v --remove-orphans >&2 || true
  fi
  if [ "$STARTED_ENGINE" = 1 ]; then "$LOCAL_DOCKER" down || true; fi
  echo "compose-walkthrough: exit $rc after $((SECONDS - STARTED))s" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "browser for the --browser story: .ci/install-browser.sh"
bash .ci/install-browser.sh

step "engine: $ENGINE"
if [ "$ENGINE" = "local-docker.sh" ]; then
  engine_was_running=0
  if [ -f "$LOCAL_DOCKER_PIDFILE" ] && kill -0 "$(cat "$LOCAL_DOCKER_PIDFILE")" 2>/dev/null; then
    engine_was_running=1
  fi
  eval "$("$LOCAL_DOCKER" up)"
  [ "$engine_was_running" = 1 ] || STARTED_ENGINE=1
fi
ENGINE_READY=1
docker version --format 'engine {{.Server.Version}}'
docker compose version

step "lint: docker compose config -q, hadolint"
docker compose config -q
if command -v hadolint >/dev/null 2>&1; then
  hadolint Dockerfile
elif [ -n "${CI:-}" ]; then
  fail "hadolint is missing (local-docker.sh installs it)"
else
  echo "hadolint not installed: Dockerfile lint not run (CI runs it)"
fi

step "build and start the servers: docker compose up -d --build --wait demo-as scoped-tools-server"
# The servers are named because `--wait` treats any container that exits as a failure, even the
# one-shot demo-client exiting 0 (Compose v2.40: "container ... exited (0)", exit status 1).
docker compose up -d --build --wait --wait-timeout 180 demo-as scoped-tools-server

step "the RS holds the lab secret and nothing else of the AS's"
docker compose exec -T scoped-tools-server sh -c 'test -s /lab-secret/lab-secret' \
  || fail "the RS cannot read the lab secret at /lab-secret/lab-secret"
seen=$(docker compose exec -T scoped-tools-server sh -c 'find / -xdev -name "demo_as.db*" 2>/dev/null; find /lab-secret /data -name "demo_as.db*"' || true)
if [ -n "$seen" ]; then
  fail "the RS container can see the AS database"
fi
echo "ok: the RS reads /lab-secret/lab-secret and sees no AS database"

step "the story inside compose: demo-client service"
docker compose up -d demo-client
docker compose wait demo-client >/dev/null || true
client_container=$(docker compose ps -a -q demo-client)
client_exit=$(docker inspect --format '{{.State.ExitCode}}' "$client_container")
docker compose logs --no-color --no-log-prefix demo-client >/tmp/compose-walkthrough-story.log
cat /tmp/compose-walkthrough-story.log
[ "$client_exit" = 0 ] || fail "demo-client exited $client_exit"
check_story_log /tmp/compose-walkthrough-story.log
# Before check_story_used_compose: its probe of /authorize (no PKCE) is journaled for that client.
check_story_in_lab /tmp/compose-walkthrough-story.log
# Into a file first: with pipefail, `logs | grep -q` fails when grep stops reading early (SIGPIPE).
docker compose logs --no-color demo-as >/tmp/compose-walkthrough-as.log
grep -q '"POST /register HTTP/1.1" 201' /tmp/compose-walkthrough-as.log \
  || fail "demo-as's log shows no registration: the story did not reach the compose AS"
check_story_used_compose /tmp/compose-walkthrough-story.log

step "host: mcp SDK client up the ladder, token survives a demo-as restart, story --browser"
# RUN_DOCKER_TESTS enables the docker-marked tests; COMPOSE_WALKTHROUGH tells them the stack is up
# and lets them restart services with `docker compose`.
COMPOSE_WALKTHROUGH=1 RUN_DOCKER_TESTS=1 \
  uv run pytest tests/compose -p no:cacheprovider -v -rs

step "a switch changes only the service it names (README.md, Switches)"
as_before=$(docker compose ps -q demo-as)
SCOPED_TOOLS_CHALLENGE_SCOPE=cumulative docker compose up -d --wait --no-deps scoped-tools-server
rs_container=$(docker compose ps -q scoped-tools-server)
[ "$(docker compose ps -q demo-as)" = "$as_before" ] || fail "the switch command recreated demo-as"
docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$rs_container" \
  | grep -x 'SCOPED_TOOLS_CHALLENGE_SCOPE=cumulative' >/dev/null || fail "the RS did not get the switch"
echo "ok: only scoped-tools-server was recreated, now with --challenge-scope cumulative"

step "docker compose run --rm --no-deps demo-client story (the README's 'tell it again'), under that switch"
again=/tmp/compose-walkthrough-story-again.log
docker compose run --rm --no-deps demo-client story >"$again" 2>&1 \
  || { cat "$again"; fail "docker compose run --rm --no-deps demo-client story failed"; }
cat "$again"
grep -q 'Story complete: all' "$again" || fail "the story told again did not complete"
grep -q 'challenge: Bearer error=insufficient_scope, scope="notes:read notes:write"' "$again" \
  || fail "the story told again did not see the cumulative challenge (was the RS recreated?)"
check_story_used_compose "$again"
[ "$(docker compose ps -q demo-as)" = "$as_before" ] || fail "telling the story again recreated demo-as"
[ "$(docker compose ps -q scoped-tools-server)" = "$rs_container" ] \
  || fail "telling the story again recreated scoped-tools-server"
echo "ok: the story ran again against the compose servers, neither server recreated"

step "done: all checks passed"
