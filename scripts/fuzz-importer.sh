#!/usr/bin/env bash
# Fuzzes the ONNX importer with libFuzzer (ASan + UBSan) for SECONDS (default 600).
#
#   scripts/fuzz-importer.sh [SECONDS]
#
# Builds tools/kiln-fuzz-import with clang-22 in ${KILN_FUZZ_BUILD_DIR:-build-fuzz} (only that
# target: the rest of the tree is not needed), seeds a working corpus from
# test/Importer/fuzz-corpus, the models of test/Importer/Inputs/make-models.py and a few ONNX
# node tests of libonnx-testdata, then fuzzes on ${KILN_FUZZ_JOBS:-$(nproc)} processes.
# Crashes, leaks, timeouts and OOMs land in $build/fuzz/artifacts/; replay one with
#   $build/bin/kiln-fuzz-import FILE
# minimise it with
#   $build/bin/kiln-fuzz-import -minimize_crash=1 -runs=20000 FILE
# and add the result to test/Importer/fuzz-corpus/ (the lit suite replays that folder).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${KILN_FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${1:-600}"
jobs="${KILN_FUZZ_JOBS:-$(nproc)}"

# clang-22 and its compiler-rt (libclang_rt.fuzzer, asan, ubsan).
if ! command -v clang++-22 >/dev/null ||
    [ ! -f /usr/lib/llvm-22/lib/clang/22/lib/linux/libclang_rt.fuzzer-x86_64.a ]; then
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update
  "${sudo_cmd[@]}" apt-get install -y clang-22 libclang-rt-22-dev
fi

if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DKILN_BUILD_FUZZERS=ON -DKILN_BUILD_TESTS=OFF
fi
# Only the fuzz target: `ninja` alone would build every tool of the tree.
ninja -C "$build" kiln-fuzz-import

fuzz="$build/fuzz"
corpus="$fuzz/corpus"
mkdir -p "$corpus" "$fuzz/artifacts" "$fuzz/seeds"
cp "$root"/test/Importer/fuzz-corpus/* "$fuzz/seeds/" 2>/dev/null || true
models="$(mktemp -d)"
trap 'rm -rf "$models"' EXIT
/usr/bin/python3 "$root/test/Importer/Inputs/make-models.py" "$models"
for f in "$models"/*.onnx; do
  if [ "$(stat -c %s "$f")" -le 65536 ]; then cp "$f" "$fuzz/seeds/models-$(basename "$f")"; fi
done
# Up to two ONNX node tests per op type Kiln imports (test_layer_normalization_* for
# LayerNormalization, ...).
testdata=/usr/share/libonnx-testdata/data/node
if [ -d "$testdata" ]; then
  ops=$(grep -o '^op_[A-Za-z]*' "$root/tools/kiln-fuzz-import/onnx-importer.dict" | cut -c4-)
  tests=$(cd "$testdata" && ls -d test_*/)
  for op in $ops; do
    key=$(echo "$op" | tr 'A-Z' 'a-z')
    # test_layer_normalization_2d_axis0/ -> layernormalization2daxis0
    for dir in $(echo "$tests" | awk -v key="$key" '{ n = $0; sub(/^test_/, "", n); gsub(/[_\/]/, "", n);
                                                     if (index(n, key) == 1 && ++c <= 2) print $0 }'); do
      if [ -f "$testdata/$dir/model.onnx" ]; then
        cp "$testdata/$dir/model.onnx" "$fuzz/seeds/node-${dir%/}.onnx"
      fi
    done
  done
fi
echo "kiln: $(ls "$fuzz/seeds" | wc -l) seed inputs, $(ls "$corpus" | wc -l) in the working corpus"

# Leaks inside libMLIR/protobuf that are not the importer's would be suppressed there, each with
# its reason; none has been needed so far.
export LSAN_OPTIONS="suppressions=$root/scripts/lsan-suppressions.txt:print_suppressions=0"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Fork mode: keeps fuzzing after a crash (each is saved under artifacts/) and merges new
# coverage from all processes into the one working corpus.
"$build/bin/kiln-fuzz-import" "$corpus" "$fuzz/seeds" \
  -fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
  -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 -timeout=10 \
  -dict="$root/tools/kiln-fuzz-import/onnx-importer.dict" \
  -artifact_prefix="$fuzz/artifacts/" -print_final_stats=1 2>&1 | tee "$fuzz/fuzz-$(date +%Y%m%d-%H%M%S).log"

echo "kiln: working corpus $(ls "$corpus" | wc -l) inputs; artifacts:"
ls -la "$fuzz/artifacts/"
