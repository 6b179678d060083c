// Input of kiln-report-output-file.mlir: one function with one GQA attention.
func.func @one_attention(%q: tensor<1x4x8x32xf32>, %kv: tensor<1x2x8x32xf32>) -> tensor<1x4x8x32xf32> {
  %o = kiln.attention %q, %kv, %kv heads 4 kv_heads 2 head_dim 32 scale 0.17677669 causal : tensor<1x4x8x32xf32>, tensor<1x2x8x32xf32>, tensor<1x2x8x32xf32> -> tensor<1x4x8x32xf32>
  return %o : tensor<1x4x8x32xf32>
}
