#!/bin/sh
# Installs what tests/test_browser.py drives: Debian's chromium and
# chromium-driver (one source package, so their versions always match).
# Run by that test when they are missing.
set -e
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
exec sh "$(dirname "$0")/apt-install.sh" chromium chromium-driver
