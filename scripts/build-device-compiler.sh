#!/usr/bin/env bash
# Builds the kiln-compile that travels to the GPU machine (no LLVM/MLIR there): linked statically
# against everything but glibc (KILN_STATIC_TOOLS=ON; build dir build-static, or
# $KILN_STATIC_BUILD_DIR), stripped, and xz-compressed into .device/kiln-compile.xz (ignored by
# git). Incremental: a second run only rebuilds what changed. Details: docs/Development.md.
#
# On the GPU machine, python3's standard library unpacks it (no xz binary needed):
#   python3 -c 'import lzma,shutil,sys
#   shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
#     .device/kiln-compile.xz /tmp/kiln-compile && chmod +x /tmp/kiln-compile
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${KILN_STATIC_BUILD_DIR:-$root/build-static}"
out="$root/.device"

# What the static link needs beyond scripts/install-deps.sh: libzstd.a (LLVMSupport) and lld 22
# (optional, for a fast link; without it the default linker is used).
"$root/scripts/install-deps.sh"
extra=()
for p in libzstd-dev lld-22 xz-utils; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    extra+=("$p")
  fi
done
if [ ${#extra[@]} -gt 0 ]; then
  echo "kiln: installing ${extra[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${extra[@]}"
fi

# One run at a time (two would share the build folder and the output).
mkdir -p "$out"
exec 9>"$out/.build-device-compiler.lock"
flock 9

if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DKILN_STATIC_TOOLS=ON -DKILN_BUILD_TESTS=OFF
fi
start=$(date +%s)
ninja -C "$build" kiln-compile
echo "kiln: build took $(( $(date +%s) - start )) s"

bin="$build/bin/kiln-compile"
stripped="$build/kiln-compile.stripped"
packed="$out/kiln-compile.xz"
# Strip and compress only when the binary changed. xz with the x86 branch filter packs machine
# code about 10% smaller than plain xz -9 (and 20% smaller than zstd -19); python3's lzma reads it.
if [ ! -f "$packed" ] || [ ! -f "$stripped" ] || [ "$bin" -nt "$packed" ]; then
  strip --strip-all -o "$stripped" "$bin"
  xz --x86 --lzma2=preset=9e -T1 -c "$stripped" > "$packed.tmp.$$"
  mv "$packed.tmp.$$" "$packed"
fi

# The binary must not need anything the GPU machine lacks: glibc's libraries only.
glibc_only='linux-vdso|ld-linux|lib(c|m|dl|pthread|rt)\.so'
if ldd "$bin" 2>/dev/null | grep -v -E "$glibc_only" | grep -q .; then
  echo "kiln: $bin links more than glibc:" >&2
  ldd "$bin" >&2
  exit 1
fi

size() { stat -c %s "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
glibc=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
echo "kiln: $bin: $(mib "$(size "$bin")") raw, $(mib "$(size "$stripped")") stripped"
echo "kiln: $packed: $(mib "$(size "$packed")") (xz); needs glibc >= ${glibc#GLIBC_}"
