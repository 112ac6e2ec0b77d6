#!/usr/bin/env bash
# The dashboard's browser tests drive Debian's chromium (never a downloaded browser).
# Install it when missing and we may (root, as in CI); otherwise the tests say they skip.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "WARNING: /usr/bin/chromium is missing and we are not root: browser tests will be skipped" >&2
  exit 0
fi
echo "installing Debian's chromium for the browser tests..." >&2
(apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) \
  || echo "WARNING: could not install chromium: browser tests will be skipped" >&2
exit 0
