#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries if they are missing, so the AS storage and
# concurrency tests can start a throwaway cluster (tests/harness/postgres_cluster.py).
# The packaged "main" cluster is not used and not started: the tests run their own cluster on a
# free 127.0.0.1 port as the `postgres` user and delete it afterwards.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null \
  && compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null; then
  echo "PostgreSQL server binaries already installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# `postgresql` pulls in the versioned server package (initdb, pg_ctl) and creates the `postgres`
# user that the throwaway cluster runs as (PostgreSQL refuses to run as root).
$SUDO apt-get install -y --no-install-recommends postgresql

if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  echo "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found" >&2
  exit 1
fi
echo "PostgreSQL installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
