#!/usr/bin/env bash
# Headless Chromium for the report test: Debian's chromium package, installed when missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "The report test needs Debian's chromium package; install it as root: apt-get install chromium" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y chromium >/dev/null 2>&1 || {
    apt-get update >/dev/null
    apt-get install -y chromium >/dev/null
}
command -v chromium >/dev/null
