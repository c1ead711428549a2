#!/bin/sh
# Installs what the PostgreSQL tests start (tools/pgcluster.py): Debian's
# postgresql server.  Run when it is missing; needs root and apt-get.
set -e
if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "cannot install postgresql here (needs root and apt-get)" >&2
    exit 3
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql >/dev/null
