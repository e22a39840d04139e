# syntax=docker/dockerfile:1
# nginx with TLS in front of the gpulens container: the shipped
# deploy/nginx/gpulens.conf, rendered by deploy/nginx/render.sh at build time,
# serving the built dashboard itself and proxying /api, /ws/gpu and /metrics.
# Used by the `nginx` profile of docker-compose.yml:
#   docker compose --profile nginx up --build      # https://localhost:8443
# The certificate is mounted at run time into /etc/gpulens/tls/ (fullchain.pem,
# privkey.pem), and so is the htpasswd file of the basic auth the recipe turns
# on by default (htpasswd; AUTH=sso or AUTH=off choose otherwise, see
# docs/access.md); see README.md, "Docker".
#
# Base images are pinned to exact tags (pin digests too for production).
ARG NODE_IMAGE=node:20.20.2-alpine
ARG NGINX_IMAGE=nginxinc/nginx-unprivileged:1.29.3-alpine

# --- the dashboard: npm ci && npm run build, as `make build` -----------------
FROM ${NODE_IMAGE} AS spa
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY frontend/ ./
RUN npm run build

FROM ${NGINX_IMAGE}
# Unprivileged image: nginx runs as uid 101 and can bind only ports >= 1024.
ARG SERVER_NAME=localhost
ARG UPSTREAM=backend:5000
ARG HTTPS_PORT=8443
ARG HTTP_PORT=8080
ARG METRICS_ALLOW=127.0.0.1
ARG AUTH=basic
ARG HTPASSWD=/etc/gpulens/tls/htpasswd
ARG SSO_UPSTREAM=oauth2-proxy:4180
COPY --from=spa /src/frontend/dist /usr/share/gpulens/dist
COPY deploy/nginx/security-headers.conf deploy/nginx/proxy.conf /etc/nginx/snippets/gpulens/
COPY deploy/nginx/ffdhe2048.pem /etc/nginx/ffdhe2048.pem
COPY deploy/nginx/gpulens.conf deploy/nginx/render.sh /tmp/gpulens-nginx/
USER 0
RUN GPULENS_SERVER_NAME="${SERVER_NAME}" \
    GPULENS_HTTP_LISTEN="${HTTP_PORT}" \
    GPULENS_HTTPS_LISTEN="${HTTPS_PORT}" \
    GPULENS_REDIRECT_PORT=":${HTTPS_PORT}" \
    GPULENS_UPSTREAM="${UPSTREAM}" \
    GPULENS_STATIC=/usr/share/gpulens/dist \
    GPULENS_CERT=/etc/gpulens/tls/fullchain.pem \
    GPULENS_KEY=/etc/gpulens/tls/privkey.pem \
    GPULENS_DHPARAM=/etc/nginx/ffdhe2048.pem \
    GPULENS_METRICS_ALLOW="${METRICS_ALLOW}" \
    GPULENS_AUTH="${AUTH}" \
    GPULENS_HTPASSWD="${HTPASSWD}" \
    GPULENS_SSO_UPSTREAM="${SSO_UPSTREAM}" \
    sh /tmp/gpulens-nginx/render.sh /tmp/gpulens-nginx/gpulens.conf > /etc/nginx/conf.d/default.conf \
    && rm -rf /tmp/gpulens-nginx
USER 101
EXPOSE 8080 8443
