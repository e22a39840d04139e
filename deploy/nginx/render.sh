#!/bin/sh
# Render deploy/nginx/gpulens.conf: replace each __GPULENS_*__ placeholder with
# the value of the environment variable of the same name, or its default.
# Writes to stdout; fails if a value could inject nginx syntax or if any
# placeholder is left.
#
#   GPULENS_SERVER_NAME=gpu.example.com deploy/nginx/render.sh > /etc/nginx/conf.d/gpulens.conf
#
# Variable                 Default                                           Meaning
# GPULENS_SERVER_NAME      localhost                                         server_name (your DNS name)
# GPULENS_HTTP_LISTEN      80                                                listen of the redirect server ([addr:]port)
# GPULENS_HTTPS_LISTEN     443                                               listen of the TLS server ([addr:]port)
# GPULENS_REDIRECT_PORT    (empty)                                           ":8443" when HTTPS is not on 443
# GPULENS_UPSTREAM         127.0.0.1:5000                                    where `gpulens serve` listens
# GPULENS_STATIC           `/opt/gpulens/bin/gpulens static-dir`             the built dashboard: inside the installed
#                                                                            wheel, or a checkout's frontend/dist
# GPULENS_CERT             /etc/letsencrypt/live/<first server name>/fullchain.pem  (certbot's layout)
# GPULENS_KEY              /etc/letsencrypt/live/<first server name>/privkey.pem
# GPULENS_DHPARAM          /etc/nginx/ffdhe2048.pem                          a copy of deploy/nginx/ffdhe2048.pem
# GPULENS_METRICS_ALLOW    127.0.0.1                                         address or CIDR of the Prometheus
#                                                                            server, e.g. 10.0.0.0/8
# GPULENS_AUTH             basic                                             who may look (docs/access.md): basic
#                                                                            (htpasswd), sso (auth_request to an
#                                                                            OAuth2 proxy) or off (explicitly none)
# GPULENS_HTPASSWD         /etc/nginx/gpulens.htpasswd                       the htpasswd file (basic; must not be
#                                                                            set empty)
# GPULENS_SSO_UPSTREAM     127.0.0.1:4180                                    the OAuth2 proxy, oauth2-proxy's default
#                                                                            (sso)
# GPULENS_METRICS_ACCESS   auth                                              /metrics: auth (the same sign-in as the
#                                                                            page, plus the addresses) or addresses
#                                                                            (the addresses alone)
#
# Usage: render.sh [TEMPLATE]   (default: gpulens.conf beside this script)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
template=${1:-$here/gpulens.conf}

: "${GPULENS_SERVER_NAME:=localhost}"
: "${GPULENS_HTTP_LISTEN:=80}"
: "${GPULENS_HTTPS_LISTEN:=443}"
: "${GPULENS_REDIRECT_PORT:=}"
: "${GPULENS_UPSTREAM:=127.0.0.1:5000}"
# The dashboard the installed gpulens serves (the copy inside its package).
if [ -z "${GPULENS_STATIC:-}" ] && [ -x /opt/gpulens/bin/gpulens ]; then
  GPULENS_STATIC=$(/opt/gpulens/bin/gpulens static-dir) || GPULENS_STATIC=
fi
if [ -z "${GPULENS_STATIC:-}" ]; then
  echo "render.sh: set GPULENS_STATIC to the built dashboard (\`gpulens static-dir\` prints it)" >&2
  exit 2
fi
first_name=${GPULENS_SERVER_NAME%% *}
: "${GPULENS_CERT:=/etc/letsencrypt/live/$first_name/fullchain.pem}"
: "${GPULENS_KEY:=/etc/letsencrypt/live/$first_name/privkey.pem}"
: "${GPULENS_DHPARAM:=/etc/nginx/ffdhe2048.pem}"
: "${GPULENS_METRICS_ALLOW:=127.0.0.1}"
# Access: only an unset variable takes the default, so that an empty
# GPULENS_AUTH or GPULENS_HTPASSWD is an error rather than a silent default.
: "${GPULENS_AUTH=basic}"
: "${GPULENS_HTPASSWD=/etc/nginx/gpulens.htpasswd}"
: "${GPULENS_SSO_UPSTREAM=127.0.0.1:4180}"
: "${GPULENS_METRICS_ACCESS=auth}"
case "$GPULENS_AUTH" in
  basic)
    if [ -z "$GPULENS_HTPASSWD" ]; then
      echo "render.sh: GPULENS_HTPASSWD is empty: basic auth needs an htpasswd file" \
        "(htpasswd -B -c /etc/nginx/gpulens.htpasswd USER), or choose GPULENS_AUTH=sso or off" >&2
      exit 2
    fi ;;
  sso)
    if [ -z "$GPULENS_SSO_UPSTREAM" ]; then
      echo "render.sh: GPULENS_SSO_UPSTREAM is empty: where does the OAuth2 proxy listen?" >&2; exit 2
    fi ;;
  off)
    echo "render.sh: GPULENS_AUTH=off: nginx lets anyone who reaches it see the dashboard;" \
      "gpulens' ACCESS_TOKEN_FILE (docs/access.md) is then the only check" >&2 ;;
  *)
    echo "render.sh: GPULENS_AUTH=\"$GPULENS_AUTH\": choose basic, sso or off" >&2; exit 2 ;;
esac
case "$GPULENS_METRICS_ACCESS" in
  auth|addresses) ;;
  *) echo "render.sh: GPULENS_METRICS_ACCESS=\"$GPULENS_METRICS_ACCESS\": choose auth or addresses" >&2
     exit 2 ;;
esac

# Keep the blocks of the chosen modes (dropping their marker lines), drop the others.
script=""
for block in auth=basic auth=sso auth=off metrics=auth metrics=addresses; do
  case "$block" in
    "auth=$GPULENS_AUTH"|"metrics=$GPULENS_METRICS_ACCESS")
      script="${script}/^[[:space:]]*# \[\/\{0,1\}${block}\]\$/d
" ;;
    *)
      script="${script}/^[[:space:]]*# \[${block}\]\$/,/^[[:space:]]*# \[\/${block}\]\$/d
" ;;
  esac
done
for name in SERVER_NAME HTTP_LISTEN HTTPS_LISTEN REDIRECT_PORT UPSTREAM STATIC CERT KEY DHPARAM METRICS_ALLOW \
            HTPASSWD SSO_UPSTREAM; do
  eval "value=\${GPULENS_$name}"
  # Only characters that cannot end a directive or start a variable: letters,
  # digits, . _ - : / [ ] * ~ and (server names only) spaces.
  case "$name:$value" in
    SERVER_NAME:*[!A-Za-z0-9._:*~\ -]*)
      echo "render.sh: GPULENS_$name=\"$value\" has a character nginx would read as syntax" >&2; exit 2 ;;
    SERVER_NAME:*) ;;
    *:*[!A-Za-z0-9._:/\[\]*~-]*)
      echo "render.sh: GPULENS_$name=\"$value\" has a character nginx would read as syntax" >&2; exit 2 ;;
  esac
  case "$name:$GPULENS_AUTH" in
    HTPASSWD:basic|SSO_UPSTREAM:sso) ;;
    HTPASSWD:*|SSO_UPSTREAM:*) continue ;;  # not used by this mode
  esac
  if [ "$name" != REDIRECT_PORT ] && [ -z "$value" ]; then
    echo "render.sh: GPULENS_$name is empty" >&2; exit 2
  fi
  script="${script}s|__GPULENS_${name}__|${value}|g
"
done

out=$(sed -e "$script" "$template")
if printf '%s\n' "$out" | grep -n -e '__GPULENS_[A-Z_]*__' -e '# \[/\{0,1\}[a-z]*=[a-z]*\]' >&2; then
  echo "render.sh: placeholders or mode markers left in $template (above)" >&2
  exit 2
fi
printf '%s\n' "$out"
