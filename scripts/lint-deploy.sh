#!/usr/bin/env bash
# Static checks of the deployment artifacts (filled in by deploy/): nginx -t,
# systemd-analyze verify, hadolint, PM2 config load.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "lint-deploy: nothing to check yet"
