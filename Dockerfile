# Latch: one node per container. Build: docker build -t latch .
# Stage 1 compiles TypeScript; stage 2 carries production dependencies and the compiled output only.
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json vitest.config.ts ./
COPY proto ./proto
COPY src ./src
COPY test ./test
RUN npx tsc -p tsconfig.json

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `prepare` build needs dev dependencies; level and msgpackr load prebuilt binaries.
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist/src ./dist/src
COPY proto ./proto
RUN groupadd --system latch && useradd --system --gid latch --home-dir /data latch \
  && mkdir -p /data && chown latch:latch /data
USER latch
VOLUME ["/data"]
EXPOSE 7001 7101 7201
ENV LATCH_DATA_DIR=/data \
    LATCH_LISTEN_CLIENT=0.0.0.0:7001 \
    LATCH_LISTEN_PEER=0.0.0.0:7101 \
    LATCH_LISTEN_HTTP=0.0.0.0:7201
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:7201/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["server"]
