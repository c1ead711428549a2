#!/bin/sh
# Installs what the PostgreSQL tests start (tools/pgcluster.py): Debian's
# postgresql server, when it is missing.
set -e
if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    exit 0
fi
exec sh "$(dirname "$0")/apt-install.sh" postgresql
