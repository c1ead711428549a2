#!/bin/sh
# Installs Debian packages a test or benchmark needs (tools/install-browser.sh,
# tools/install-postgres.sh): apt-get install PACKAGE...  Needs root and
# apt-get; exit status 3, saying so, where they are missing.
set -e
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "cannot install $* here (needs root and apt-get)" >&2
    exit 3
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "$@" >/dev/null
