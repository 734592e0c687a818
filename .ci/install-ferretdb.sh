#!/usr/bin/env bash
# Installs FerretDB 1.24.2 (a MongoDB-wire server on SQLite) into $(go env GOPATH)/bin
# for the MongoDB store tests. Idempotent: does nothing when a working binary exists.
#
# Why not `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`:
#  - it reads the module's @v/list, which some Go proxies (ours among them) refuse;
#  - even where it succeeds, the module zip lacks build/version/version.txt (a generated
#    file), and the resulting binary panics at start-up ("Invalid build/version/version.txt").
# So we download the module source, copy it somewhere writable, write version.txt and
# build it ourselves.
set -euo pipefail

readonly MODULE=github.com/FerretDB/FerretDB
readonly VERSION=v1.24.2
# FerretDB 1.24.2's go.mod pins this toolchain; used only if the local Go cannot build it.
readonly FALLBACK_TOOLCHAIN=go1.24.3

log() { printf 'install-ferretdb: %s\n' "$*" >&2; }

works() { [[ -n "$1" && -x "$1" ]] && "$1" --version >/dev/null 2>&1; }

if works "$(command -v ferretdb || true)"; then
  log "already installed: $(command -v ferretdb)"
  exit 0
fi
command -v go >/dev/null || { log "Go is required (https://go.dev/dl/)"; exit 1; }
bindir="$(go env GOPATH)/bin"
if works "$bindir/ferretdb"; then
  log "already installed: $bindir/ferretdb"
  exit 0
fi

log "downloading $MODULE@$VERSION"
src="$(go mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
[[ -d "$src" ]] || { log "go mod download did not report a source directory"; exit 1; }

# The module cache is read-only; build from a writable copy.
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -R "$src/." "$work"
chmod -R u+w "$work"
printf '%s\n' "$VERSION" >"$work/build/version/version.txt"

mkdir -p "$bindir"
build() { (cd "$work" && go build -buildvcs=false -o "$bindir/ferretdb" ./cmd/ferretdb); }
log "building $bindir/ferretdb with $(go env GOVERSION)"
if ! build; then
  log "build failed; retrying with GOTOOLCHAIN=$FALLBACK_TOOLCHAIN"
  GOTOOLCHAIN="$FALLBACK_TOOLCHAIN" build
fi

"$bindir/ferretdb" --version >&2
log "installed $bindir/ferretdb"
