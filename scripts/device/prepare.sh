#!/usr/bin/env bash
# Prepares .device/ (ignored by git) with what the GPU machine lacks: a copy of LLVM's lit and
# the static kiln-compile (scripts/build-device-compiler.sh). Run here, before a device run that
# names .device in `carry`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mkdir -p "$root/.device/lit"
rm -rf "$root/.device/lit/lit"
cp -r /usr/lib/llvm-22/utils/lit/lit "$root/.device/lit/lit"
find "$root/.device/lit" -name __pycache__ -prune -exec rm -rf {} +
"$root/scripts/build-device-compiler.sh"
du -sh "$root/.device"
