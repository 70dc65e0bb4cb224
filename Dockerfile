# syntax=docker/dockerfile:1
# whatsgate-relay: the image runs the JavaScript that `npm run build` compiles from src/ (type
# stripping, as development runs it, keeps ~25 MB more resident), so it holds package.json, the
# production node_modules, bin/ and dist/, no TypeScript.

FROM node:26-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Every dependency, the compiler among them. No install scripts: this image has Node 26 and runs
# the build on it, so the Node.js the `node` dependency pins need not be fetched.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM node:26-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: no production dependency needs an install script (node:sqlite is built in),
# and none gets to run one. That also skips the download of the Node.js the `node` dependency pins
# for machines whose own is older: this image has Node 26, and runs it.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:26-slim AS runtime
# NODE_ENV=production: bin/start.js loads dist/, not src/ (which is not here).
# SQLITE_TMPDIR: SQLite spills a sort or an index build that outgrows its cache to a temporary file
# there (else in /var/tmp or /tmp); under `--read-only` neither is writable and such a query fails
# with "disk I/O error" (test/container/image.test.ts). /data is writable, on the outbox's disk,
# and private to the relay's user, as the spilled rows (message bodies) should be.
ENV NODE_ENV=production \
    DATA_DIR=/data \
    SQLITE_TMPDIR=/data \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY --from=build /app/dist ./dist
# The outbox and the generated ingest token live in /data, owned by the image's unprivileged user
# and readable by it alone (message bodies are personal data).
RUN mkdir -p -m 0700 /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 3000
# slim has no curl: node itself asks /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node as PID 1 gets SIGTERM from `docker stop` directly: the relay shuts down gracefully on it.
# bin/start.js checks the Node.js version first; the flag is `npm start`'s (bin/start.js says why).
CMD ["node", "--max-semi-space-size=8", "bin/start.js"]
