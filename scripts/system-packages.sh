#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the tests drive for real, when missing:
#   scripts/system-packages.sh chromium nginx prometheus
# Package names differ between Debian and Ubuntu for a few; each argument is a
# command we need, mapped to candidate packages below.
set -euo pipefail
need=()
for cmd in "$@"; do
  case "$cmd" in
    chromium) have=$(command -v chromium || command -v chromium-browser || true); pkgs="chromium" ;;
    nginx) have=$(command -v nginx || true); pkgs="nginx" ;;
    promtool|prometheus) have=$(command -v promtool || true); pkgs="prometheus" ;;
    openssl) have=$(command -v openssl || true); pkgs="openssl" ;;
    systemd-analyze) have=$(command -v systemd-analyze || true); pkgs="systemd" ;;
    *) echo "unknown tool: $cmd" >&2; exit 2 ;;
  esac
  [ -n "$have" ] || need+=($pkgs)
done
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "need root (or sudo) to install: ${need[*]}" >&2; exit 1
  fi
fi
echo "installing system packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
