# syntax=docker/dockerfile:1
#
# cpix-kms container image.
#
#   docker build -t cpix-kms:0.1.0 .
#   docker run --rm -p 8080:8080 -v cpix-kms-data:/data -v "$PWD/secrets:/run/secrets:ro" \
#     -e ADMIN_TOKEN_FILE=/run/secrets/admin-token -e MASTER_KEY_FILE=/run/secrets/master-key \
#     -e SIGNING_KEY_FILE=/run/secrets/signing.key -e SIGNING_CERT_FILE=/run/secrets/signing.crt \
#     -e EXPORT_SIGNING_KEY_FILE=/run/secrets/export-signing.key \
#     -e EXPORT_SIGNING_CERT_FILE=/run/secrets/export-signing.crt \
#     cpix-kms:0.1.0
#
# NODE_ENV=production: the service refuses to start without a configured master key, admin token and
# both signing identities (README, Configuration). scripts/container-smoke.sh builds this file without a
# Docker engine or registry access (podman, a local base image) and runs the result.
#
# Behind a TLS-intercepting proxy, hand npm the proxy's CA bundle for the build only; it is mounted
# for the one `npm ci` step and never stored in a layer:
#   docker build --secret id=npm-ca,src=/etc/ssl/certs/ca-certificates.crt -t cpix-kms:0.1.0 .

# Node.js 24 LTS (Node 20 reached end of life in April 2026). Exact version tag; pin by digest in your
# registry mirror (node:24.22.3-bookworm-slim@sha256:…). Any image with the official image's layout
# works: Debian bookworm, node/npm in /usr/local (headers in /usr/local/include/node), a `node` user with
# uid 1000 — scripts/container-smoke.sh assembles such a base from Debian and the npm registry.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# --- build: compile TypeScript, then keep only production dependencies --------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# node-gyp toolchain for the better-sqlite3 native addon (used when no prebuilt binary matches or the
# prebuilt download is unreachable).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

# node-gyp builds against the headers of the image's own Node (/usr/local/include/node) instead of
# downloading them, so a build without access to nodejs.org works and the addon always matches the
# runtime's ABI.
ENV npm_config_nodedir=/usr/local

# Dependencies first, in their own layer, so a source-only change reuses it.
# NODE_ENV is deliberately unset here: the build needs the dev dependencies (typescript).
# The optional `npm-ca` build secret (see the top of this file) is used only by this step.
# npm ci runs the prepare script, which builds only once src/ is there (it is not yet).
COPY package.json package-lock.json ./
COPY scripts/build-if-stale.mjs ./scripts/
RUN --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export npm_config_cafile=/run/secrets/npm-ca NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
 && npm ci --no-audit --no-fund

COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# --- runtime --------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime

# tini as PID 1: forwards SIGTERM to node (graceful shutdown) and reaps zombies.
# /data holds the embedded SQLite store; it is the only path the node user may write besides /tmp.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data \
 && chown node:node /data

ENV NODE_ENV=production \
    PORT=8080 \
    DATA_DIR=/data

WORKDIR /app

# Application files stay owned by root: the node user can read but not modify them.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# JSON Schemas read at run time.
COPY schemas ./schemas

USER node

EXPOSE 8080

# No curl in the slim image: probe liveness with node's own fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
# A larger young generation (as `npm start`): a key exchange allocates many short-lived objects, and
# 32 MiB semi-spaces cut scavenges enough to save 5–10 % CPU per request (README, Performance).
CMD ["node", "--max-semi-space-size=32", "dist/main.js"]
