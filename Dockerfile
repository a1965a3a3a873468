# syntax=docker/dockerfile:1
# sipext in a container: `docker build -t sipext .`, or `docker compose up` (compose.yaml).
# Three stages on the same Debian base, so the native modules (argon2, better-sqlite3) built or
# fetched in one run in the last: build (dev dependencies, dist/ and the web phone's JsSIP
# bundle), deps (runtime dependencies only) and the small runtime image.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
# dist/ (esbuild), with src/console and the JsSIP bundle the runtime cannot build without esbuild.
RUN npm run build:console && npm run build

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    SIPEXT_DATA_DIR=/var/lib/sipext \
    SIPEXT_HTTP_PORT=8080 \
    SIPEXT_SIP_PORT=5060
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
# The data directory (SQLite file, generated keys) belongs to the unprivileged `node` user.
RUN mkdir -p /var/lib/sipext && chown node:node /var/lib/sipext \
    && ln -s /app/bin/sipext.js /usr/local/bin/sipext
USER node
VOLUME ["/var/lib/sipext"]
# REST API and SIP over WebSocket; HTTPS/WSS and SIP over TLS when a certificate is configured;
# SIP over UDP and TCP.
EXPOSE 8080/tcp 8443/tcp 5060/udp 5060/tcp 5061/tcp
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.SIPEXT_HTTP_PORT}/health/live`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# sipext stops gracefully on SIGTERM (CONTRACT §12): in-flight requests and calls end cleanly.
STOPSIGNAL SIGTERM
# A young generation of 64 MiB: README "Decisions" (the server's Node flags, as `npm start`).
ENTRYPOINT ["node", "--max-semi-space-size=64", "dist/cli/main.js"]
CMD ["serve"]
