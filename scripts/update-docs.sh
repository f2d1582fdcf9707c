#!/usr/bin/env bash
# Regenerates the dialect and pass references from the .td files into docs/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOEC_BUILD_DIR:-$root/build}
ninja -C "$build" moe-docs
cp "$build/docs/MoEDialect.md" "$build/docs/MoEPasses.md" \
  "$build/docs/MoEConversions.md" "$build/docs/MoECpuPasses.md" \
  "$build/docs/MoECudaPasses.md" "$root/docs/"
echo "updated docs/MoEDialect.md, docs/MoEPasses.md, docs/MoEConversions.md," \
  "docs/MoECpuPasses.md and docs/MoECudaPasses.md"
