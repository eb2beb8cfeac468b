# syntax=docker/dockerfile:1
# The presence server image. Multi-stage: the build needs the development dependencies (esbuild,
# tsx, TypeScript), the image does not; it holds production dependencies and dist/ only, runs as the
# unprivileged `node` user, and starts `node dist/main.js` (what `npm start` runs after its build).
#
#   docker build -t presence .        (or: docker compose up --build, see compose.yaml)
#
# No Docker engine runs on our CI machines: what is verified there and what is not is listed in
# docs/deployment.md (test/deploy/dockerfile.test.ts lints this file and runs its steps without Docker).
ARG NODE_VERSION=24.22.3

# 1. Build: every dependency, then `npm run build` (server, CLI, Lua scripts, demo page into dist/).
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# 2. Production dependencies only (no install scripts: none is needed, see package.json allowScripts).
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# 3. The image.
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production \
    PRESENCE_HOST=0.0.0.0 \
    PRESENCE_ADMIN_HOST=0.0.0.0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/dist ./dist
USER node
# RPC (gRPC, gRPC-Web, Connect), WebSocket bridge and demo page, admin (/metrics, /healthz, /readyz)
EXPOSE 8080 8081 9464
# Liveness, not readiness: a Redis outage must not get the container replaced (/readyz tells that).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PRESENCE_ADMIN_PORT || 9464}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
