#!/usr/bin/env bash
# The rolling-restart drill and the nginx site's check run Debian's nginx (never started as a
# service: the tests run it in the foreground with a config of their own). Install it when
# missing and we may (root, as in CI); otherwise those tests say they skip.
set -u
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "WARNING: nginx is missing and we are not root: the nginx tests will be skipped" >&2
  exit 0
fi
echo "installing Debian's nginx for the deploy tests..." >&2
# policy-rc.d 101: the package's post-install must not start nginx as a service here.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1; fi
(apt-get install -y -q nginx-light >/dev/null 2>&1 || apt-get install -y -q nginx >/dev/null 2>&1 \
  || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q nginx >/dev/null 2>&1)) \
  || echo "WARNING: could not install nginx: the nginx tests will be skipped" >&2
if [ "$made_policy" = 1 ]; then rm -f "$policy"; fi
exit 0
