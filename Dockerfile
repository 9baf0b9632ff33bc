# squadflow worker image (used by docker-compose.yml; one service per task queue picks its queue with
# `--queues <kind>`). Runs the TypeScript sources with tsx: no build step.
FROM node:24.21.0-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production

# git: backlogs that deliver into a repository work in git worktrees and merge with the git binary
# (ssh and CA certificates for clone URLs and pushes).
RUN apt-get update \
  && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
  && rm -rf /var/lib/apt/lists/*

# Dependencies first, so source edits do not invalidate this layer. The Temporal SDK ships its native
# bridge prebuilt for linux-x64/arm64 (glibc), which this Debian-based image provides.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY . .
RUN mkdir -p state && chown -R node:node state

USER node
# node runs the worker directly (not npx/npm, which do not pass SIGTERM on): `docker stop` drains it.
CMD ["node", "--import", "tsx", "src/worker.ts"]
