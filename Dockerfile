# Gatehouse container image. The first stage installs everything, compiles the sources to
# dist/ (npm ci runs the build) and drops the dev dependencies; the C++ toolchain that
# better-sqlite3 12 needs stays there too. The image runs the compiled dist/ on Node 24,
# the Active LTS (Node 20 left support in April 2026); on Node 22+ the SQLite driver is
# better-sqlite3 13, whose binaries ship in the package (adapters/sqlite/driver.ts).
FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY adapters ./adapters
COPY views ./views
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
# MALLOC_ARENA_MAX: argon2 hashes on libuv threads, and glibc would keep each thread's
# freed 19 MiB in an arena of its own (docs/benchmarks.md: peak RSS 224 → 141 MB).
# GLIBC_TUNABLES: each hash's 19 MiB comes from mmap and goes back to the kernel when
# the hash ends; by default glibc serves it from its heap after the first one and keeps
# up to ~38 MB of it (after sign-ins peak RSS 204-226 → 172-178 MB). hugetlb=1 asks for
# transparent huge pages, so mapping it afresh costs ~2-3 ms a hash instead of ~12.
# --max-old-space-size: with an explicit heap limit V8 collects the old generation early
# instead of letting request garbage pile up to ~100 MB (userinfo peak RSS 204 → 140 MB,
# about 7% fewer requests/s); the live heap is ~30 MB, so 1 GiB is never the limit.
# --max-semi-space-size=16: Node 20's young generation. Node 24 lets it grow to 4 × that
# (134 MB of new space against 34), which took peak RSS from ~185 to 250-280 MB.
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/app/data \
    MALLOC_ARENA_MAX=2 \
    GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=16777216 \
    NODE_OPTIONS="--max-old-space-size=1024 --max-semi-space-size=16"
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:3000/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
CMD ["node", "bin/gatehouse.js", "serve"]
