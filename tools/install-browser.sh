#!/bin/sh
# Installs what tests/test_browser.py drives: Debian's chromium and
# chromium-driver (one source package, so their versions always match).
# Run by that test when they are missing; needs root and apt-get.
set -e
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "cannot install chromium here (needs root and apt-get)" >&2
    exit 3
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
