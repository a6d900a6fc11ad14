# syntax=docker/dockerfile:1
# modelgate image: build TypeScript once, ship dist/ with production dependencies only, run as
# the unprivileged `node` user.

FROM node:20.19-bookworm-slim AS build
WORKDIR /app
# Dependencies first so source edits reuse the npm ci layer.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# protos/ holds modelgate's own protos; Envoy's come from @grpc/grpc-js-xds in node_modules.
RUN mkdir -p protos \
 && npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:20.19-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /app/protos ./protos
# Files stay root-owned and read-only to the process; state it writes goes to /var/lib/modelgate.
RUN mkdir -p /var/lib/modelgate && chown node:node /var/lib/modelgate
USER node
WORKDIR /var/lib/modelgate

# 9191 gRPC ext_authz, 9192 admin/metrics, 9193 HTTP authorization, 9194 the audit receiver
# (Envoy's access logs; beyond loopback only with mTLS). Every listener defaults to loopback: the
# mounted config chooses what a container serves beyond it.
EXPOSE 9191 9192 9193 9194
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9192/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cli/index.js"]
CMD ["serve", "--config", "/etc/modelgate/modelgate.yaml"]
