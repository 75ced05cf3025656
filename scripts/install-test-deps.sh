#!/usr/bin/env bash
# Installs what the browser tests need from Debian's packages: Chromium (headless) and a
# font. Never downloads a browser build of its own. Fails loudly when it cannot install,
# so browser tests never skip silently.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-test-deps: Chromium is missing and this user cannot apt-get install it." >&2
    echo "  Fix: run as root, or install Debian's 'chromium' package yourself." >&2
    exit 1
  fi
fi
echo "install-test-deps: installing Debian's chromium (headless browser tests)..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null
