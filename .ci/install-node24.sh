#!/usr/bin/env bash
# Prints the bin directory of a Node 24 (the container image's runtime): the one on PATH
# if it is 24 already, otherwise Node 24.21.0 from the npm registry's node-linux-<arch>
# package (the official binary; `npm pack` checks the registry's sha512 integrity), kept
# in ~/.cache/gatehouse-ci. Idempotent.
set -euo pipefail

readonly VERSION=24.21.0
log() { printf 'install-node24: %s\n' "$*" >&2; }

if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" = 24 ]; then
  dirname "$(command -v node)"
  exit 0
fi
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) log "no Node 24 package for $(uname -m)"; exit 1 ;;
esac
dir="${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse-ci/node-$VERSION-linux-$arch"
if [ ! -x "$dir/bin/node" ]; then
  log "fetching node-linux-$arch@$VERSION from the npm registry"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-$arch@$VERSION" >/dev/null)
  mkdir -p "$dir"
  tar -xzf "$tmp"/node-linux-*.tgz -C "$dir" --strip-components=1
  rm -rf "$tmp"
fi
"$dir/bin/node" --version >/dev/null
echo "$dir/bin"
