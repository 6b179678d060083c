// The bundled default model's architecture (bytelm_llama from ../shared/models: byte-level
// Llama, 4 layers, d=256, 8 query heads / 2 KV heads (GQA), head_dim 32, SwiGLU 688, RoPE,
// dynamic `seq`) written at the transformer level of the kiln dialect, as raise and
// fuse-attention will produce it. Weights are function arguments here; the ONNX importer will
// give them as resource blobs. Used by the README's main command (kiln-report).
func.func @main(%input_ids: tensor<1x?xi64>,
                %embed: tensor<256x256xf32>,
                %cos: tensor<?x16xf32>,
                %sin: tensor<?x16xf32>,
                %l0_ln1: tensor<256xf32>,
                %l0_wq: tensor<256x256xf32>,
                %l0_wk: tensor<64x256xf32>,
                %l0_wv: tensor<64x256xf32>,
                %l0_wo: tensor<256x256xf32>,
                %l0_ln2: tensor<256xf32>,
                %l0_wg: tensor<688x256xf32>,
                %l0_wu: tensor<688x256xf32>,
                %l0_wd: tensor<256x688xf32>,
                %l1_ln1: tensor<256xf32>,
                %l1_wq: tensor<256x256xf32>,
                %l1_wk: tensor<64x256xf32>,
                %l1_wv: tensor<64x256xf32>,
                %l1_wo: tensor<256x256xf32>,
                %l1_ln2: tensor<256xf32>,
                %l1_wg: tensor<688x256xf32>,
                %l1_wu: tensor<688x256xf32>,
                %l1_wd: tensor<256x688xf32>,
                %l2_ln1: tensor<256xf32>,
                %l2_wq: tensor<256x256xf32>,
                %l2_wk: tensor<64x256xf32>,
                %l2_wv: tensor<64x256xf32>,
                %l2_wo: tensor<256x256xf32>,
                %l2_ln2: tensor<256xf32>,
                %l2_wg: tensor<688x256xf32>,
                %l2_wu: tensor<688x256xf32>,
                %l2_wd: tensor<256x688xf32>,
                %l3_ln1: tensor<256xf32>,
                %l3_wq: tensor<256x256xf32>,
                %l3_wk: tensor<64x256xf32>,
                %l3_wv: tensor<64x256xf32>,
                %l3_wo: tensor<256x256xf32>,
                %l3_ln2: tensor<256xf32>,
                %l3_wg: tensor<688x256xf32>,
                %l3_wu: tensor<688x256xf32>,
                %l3_wd: tensor<256x688xf32>,
                %norm: tensor<256xf32>,
                %lm_head: tensor<256x256xf32>) -> tensor<1x?x256xf32> {
  %h0 = kiln.onnx.Gather %embed, %input_ids {axis = 0 : i64} : (tensor<256x256xf32>, tensor<1x?xi64>) -> tensor<1x?x256xf32>
  %h1 = kiln.layer 0 (%h0, %cos, %sin, %l0_ln1, %l0_wq, %l0_wk, %l0_wv, %l0_wo, %l0_ln2, %l0_wg, %l0_wu, %l0_wd)
      : (tensor<1x?x256xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<256xf32>, tensor<256x256xf32>, tensor<64x256xf32>, tensor<64x256xf32>, tensor<256x256xf32>, tensor<256xf32>, tensor<688x256xf32>, tensor<688x256xf32>, tensor<256x688xf32>) -> tensor<1x?x256xf32> {
  ^bb0(%x: tensor<1x?x256xf32>, %c: tensor<?x16xf32>, %s: tensor<?x16xf32>, %ln1: tensor<256xf32>, %wq: tensor<256x256xf32>, %wk: tensor<64x256xf32>, %wv: tensor<64x256xf32>, %wo: tensor<256x256xf32>, %ln2: tensor<256xf32>, %wg: tensor<688x256xf32>, %wu: tensor<688x256xf32>, %wd: tensor<256x688xf32>):
    %n1 = kiln.rms_norm %x, %ln1 eps 1.000000e-06 : tensor<1x?x256xf32>, tensor<256xf32>
    %q = kiln.linear %n1, %wq : tensor<1x?x256xf32>, tensor<256x256xf32> -> tensor<1x?x256xf32>
    %k = kiln.linear %n1, %wk : tensor<1x?x256xf32>, tensor<64x256xf32> -> tensor<1x?x64xf32>
    %v = kiln.linear %n1, %wv : tensor<1x?x256xf32>, tensor<64x256xf32> -> tensor<1x?x64xf32>
    %q_shape = kiln.constant dense<[1, -1, 8, 32]> : tensor<4xi64>
    %kv_shape = kiln.constant dense<[1, -1, 2, 32]> : tensor<4xi64>
    %q4 = kiln.onnx.Reshape %q, %q_shape : (tensor<1x?x256xf32>, tensor<4xi64>) -> tensor<1x?x8x32xf32>
    %k4 = kiln.onnx.Reshape %k, %kv_shape : (tensor<1x?x64xf32>, tensor<4xi64>) -> tensor<1x?x2x32xf32>
    %v4 = kiln.onnx.Reshape %v, %kv_shape : (tensor<1x?x64xf32>, tensor<4xi64>) -> tensor<1x?x2x32xf32>
    %qt = kiln.onnx.Transpose %q4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x8x32xf32>) -> tensor<1x8x?x32xf32>
    %kt = kiln.onnx.Transpose %k4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x32xf32>) -> tensor<1x2x?x32xf32>
    %vt = kiln.onnx.Transpose %v4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x32xf32>) -> tensor<1x2x?x32xf32>
    %qr = kiln.rotary %qt, %c, %s half dim 32 : tensor<1x8x?x32xf32>, tensor<?x16xf32>
    %kr = kiln.rotary %kt, %c, %s half dim 32 : tensor<1x2x?x32xf32>, tensor<?x16xf32>
    %att = kiln.attention %qr, %kr, %vt heads 8 kv_heads 2 head_dim 32 scale 0.176776692 causal
        : tensor<1x8x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32> -> tensor<1x8x?x32xf32>
    %att_t = kiln.onnx.Transpose %att {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x8x?x32xf32>) -> tensor<1x?x8x32xf32>
    %h_shape = kiln.constant dense<[1, -1, 256]> : tensor<3xi64>
    %att_h = kiln.onnx.Reshape %att_t, %h_shape : (tensor<1x?x8x32xf32>, tensor<3xi64>) -> tensor<1x?x256xf32>
    %r1 = kiln.linear %att_h, %wo residual(%x : tensor<1x?x256xf32>) : tensor<1x?x256xf32>, tensor<256x256xf32> -> tensor<1x?x256xf32>
    %n2 = kiln.rms_norm %r1, %ln2 eps 1.000000e-06 : tensor<1x?x256xf32>, tensor<256xf32>
    %gate = kiln.linear %n2, %wg : tensor<1x?x256xf32>, tensor<688x256xf32> -> tensor<1x?x688xf32>
    %up = kiln.linear %n2, %wu : tensor<1x?x256xf32>, tensor<688x256xf32> -> tensor<1x?x688xf32>
    %act = kiln.swiglu %gate, %up : tensor<1x?x688xf32>
    %r2 = kiln.linear %act, %wd residual(%r1 : tensor<1x?x256xf32>) : tensor<1x?x688xf32>, tensor<256x688xf32> -> tensor<1x?x256xf32>
    kiln.yield %r2 : tensor<1x?x256xf32>
  }
  %h2 = kiln.layer 1 (%h1, %cos, %sin, %l1_ln1, %l1_wq, %l1_wk, %l1_wv, %l1_wo, %l1_ln2, %l1_wg, %l1_wu, %l1_wd)
      : (tensor<1x?x256xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<256xf32>, tensor<256x256xf32>, tensor<64x256xf32>, tensor<64x256xf32>, tensor<256x256xf32>, tensor<256xf32>, tensor<688x256xf32>, tensor<688x256xf32>, tensor<256x688xf32>) -> tensor<1x?x256xf32> {
  ^bb0(%x: tensor<1x?x256xf32>, %c: tensor<?x16xf32>, %s: tensor<?x16xf32>, %ln1: tensor<256xf32>, %wq: tensor<256x256xf32>, %wk: tensor<64x256xf32>, %wv: tensor<64x256xf32>, %wo: tensor<256x256xf32>, %ln2: tensor<256xf32>, %wg: tensor<688x256xf32>, %wu: tensor<688x256xf32>, %wd: tensor<256x688xf32>):
    %n1 = kiln.rms_norm %x, %ln1 eps 1.000000e-06 : tensor<1x?x256xf32>, tensor<256xf32>
    %q = kiln.linear %n1, %wq : tensor<1x?x256xf32>, tensor<256x256xf32> -> tensor<1x?x256xf32>
    %k = kiln.linear %n1, %wk : tensor<1x?x256xf32>, tensor<64x256xf32> -> tensor<1x?x64xf32>
    %v = kiln.linear %n1, %wv : tensor<1x?x256xf32>, tensor<64x256xf32> -> tensor<1x?x64xf32>
    %q_shape = kiln.constant dense<[1, -1, 8, 32]> : tensor<4xi64>
    %kv_shape = kiln.constant dense<[1, -1, 2, 32]> : tensor<4xi64>
    %q4 = kiln.onnx.Reshape %q, %q_shape : (tensor<1x?x256xf32>, tensor<4xi64>) -> tensor<1x?x8x32xf32>
    %k4 = kiln.onnx.Reshape %k, %kv_shape : (tensor<1x?x64xf32>, tensor<4xi64>) -> tensor<1x?x2x32xf32>
    %v4 = kiln.onnx.Reshape %v, %kv_shape : (tensor<1x?x64xf32>, tensor<4xi64>) -> tensor<1x?x2x32xf32>
    %qt = kiln.onnx.Transpose %q4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x8x32xf32>) -> tensor<1x8x?x32xf32>
    %kt = kiln.onnx.Transpose %k4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x32xf32>) -> tensor<1x2x?x32xf32>
    %vt = kiln.onnx.Transpose %v4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x32xf32>) -> tensor<1x2x?x32xf32>
    %qr = kiln.rotary %qt, %c, %s half dim 32 : tensor<1x8x?x32xf32>, tensor<?x16xf32>
    %kr = kiln.rotary %kt, %c, %s half dim 32 : tensor<1x2x?x32xf32>, tensor<?x16xf32>
    %att = kiln.attention %qr, %kr, %vt heads 8 kv_heads 2 head_dim 32 scale 0.176776692 causal
        : tensor<1x8x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32> -> tensor<1x8x?x32xf32>
    %att_t = kiln.onnx.Transpose %att {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x8x?x32xf32>) -> tensor<1x?x8x32xf32>
    %h_shape = kiln.constant dense<[1, -1, 256]> : tensor<3xi64>
    %att_h = kiln.onnx.Reshape %att_t, %h_shape : (tensor<1x?x8x32xf32>, tensor<3xi64>) -> tensor<1x?x256xf32>
    %r1 = kiln.linear %att_h, %wo residual(%x : tensor<1x?x256xf32>) : tensor<1x?x256xf32>, tensor<256x256xf32> -> tensor<1x?x256xf32>
    %n2 = kiln.rms_norm %r1, %ln2 eps 1.000000e-06 : tensor<1x?x256xf32>, tensor<256xf32>
    %gate = kiln.linear %n2, %wg : tensor<1x?x256xf32>, tensor<688x256xf32> -> tensor<1x?x688xf32>
    %up = kiln.linear %n2, %wu : tensor<1x?x256xf32>, tensor<688x256xf32> -> tensor<1x?x688xf32>
    %act = kiln.swiglu %gate, %up : tensor<1x?x688xf32>
    %r2 = kiln.linear %act, %wd residual(%r1 : tensor<1x?x256xf32>) : tensor<1x?x688xf32>, tensor<256x688xf32> -> tensor<1x?x256xf32>
    kiln.yield %r2 : tensor<1x?x256xf32>
  }
  %h3 = kiln.layer 2 (%h2, %cos, %sin, %l2_ln1, %l2_wq, %l2_wk, %l2_wv, %l2_wo, %l2_ln2, %l2_wg, %l2_wu, %l2_wd)
      : (tensor<1x?x256xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<256xf32>, tensor<256x256xf32>, tensor<64x256xf32>, tensor<64x256xf32>, tensor<256x256xf32>, tensor<256xf32>, tensor<688x256xf32>, tensor<688x256xf32>, tensor<256x688xf32>) -> tensor<1x?x256xf32> {
  ^bb0(%x: tensor<1x?x256xf32>, %c: tensor<?x16xf32>, %s: tensor<?x16xf32>, %ln1: tensor<256xf32>, %wq: tensor<256x256xf32>, %wk: tensor<64x256xf32>, %wv: tensor<64x256xf32>, %wo: tensor<256x256xf32>, %ln2: tensor<256xf32>, %wg: tensor<688x256xf32>, %wu: tensor<688x256xf32>, %wd: tensor<256x688xf32>):
    %n1 = kiln.rms_norm %x, %ln1 eps 1.000000e-06 : tensor<1x?x256xf32>, tensor<256xf32>
    %q = kiln.linear %n1, %wq : tensor<1x?x256xf32>, tensor<256x256xf32> -> tensor<1x?x256xf32>
    %k = kiln.linear %n1, %wk : tensor<1x?x256xf32>, tensor<64x256xf32> -> tensor<1x?x64xf32>
    %v = kiln.linear %n1, %wv : tensor<1x?x256xf32>, tensor<64x256xf32> -> tensor<1x?x64xf32>
    %q_shape = kiln.constant dense<[1, -1, 8, 32]> : tensor<4xi64>
    %kv_shape = kiln.constant dense<[1, -1, 2, 32]> : tensor<4xi64>
    %q4 = kiln.onnx.Reshape %q, %q_shape : (tensor<1x?x256xf32>, tensor<4xi64>) -> tensor<1x?x8x32xf32>
    %k4 = kiln.onnx.Reshape %k, %kv_shape : (tensor<1x?x64xf32>, tensor<4xi64>) -> tensor<1x?x2x32xf32>
    %v4 = kiln.onnx.Reshape %v, %kv_shape : (tensor<1x?x64xf32>, tensor<4xi64>) -> tensor<1x?x2x32xf32>
    %qt = kiln.onnx.Transpose %q4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x8x32xf32>) -> tensor<1x8x?x32xf32>
    %kt = kiln.onnx.Transpose %k4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x32xf32>) -> tensor<1x2x?x32xf32>
    %vt = kiln.onnx.Transpose %v4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x32xf32>) -> tensor<1x2x?x32xf32>
    %qr = kiln.rotary %qt, %c, %s half dim 32 : tensor<1x8x?x32xf32>, tensor<?x16xf32>
    %kr = kiln.rotary %kt, %c, %s half dim 32 : tensor<1x2x?x32xf32>, tensor<?x16xf32>
    %att = kiln.attention %qr, %kr, %vt heads 8 kv_heads 2 head_dim 32 scale 0.176776692 causal
        : tensor<1x8x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32> -> tensor<1x8x?x32xf32>
    %att_t = kiln.onnx.Transpose %att {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x8x?x32xf32>) -> tensor<1x?x8x32xf32>
    %h_shape = kiln.constant dense<[1, -1, 256]> : tensor<3xi64>
    %att_h = kiln.onnx.Reshape %att_t, %h_shape : (tensor<1x?x8x32xf32>, tensor<3xi64>) -> tensor<1x?x256xf32>
    %r1 = kiln.linear %att_h, %wo residual(%x : tensor<1x?x256xf32>) : tensor<1x?x256xf32>, tensor<256x256xf32> -> tensor<1x?x256xf32>
    %n2 = kiln.rms_norm %r1, %ln2 eps 1.000000e-06 : tensor<1x?x256xf32>, tensor<256xf32>
    %gate = kiln.linear %n2, %wg : tensor<1x?x256xf32>, tensor<688x256xf32> -> tensor<1x?x688xf32>
    %up = kiln.linear %n2, %wu : tensor<1x?x256xf32>, tensor<688x256xf32> -> tensor<1x?x688xf32>
    %act = kiln.swiglu %gate, %up : tensor<1x?x688xf32>
    %r2 = kiln.linear %act, %wd residual(%r1 : tensor<1x?x256xf32>) : tensor<1x?x688xf32>, tensor<256x688xf32> -> tensor<1x?x256xf32>
    kiln.yield %r2 : tensor<1x?x256xf32>
  }
  %h4 = kiln.layer 3 (%h3, %cos, %sin, %l3_ln1, %l3_wq, %l3_wk, %l3_wv, %l3_wo, %l3_ln2, %l3_wg, %l3_wu, %l3_wd)
      : (tensor<1x?x256xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<256xf32>, tensor<256x256xf32>, tensor<64x256xf32>, tensor<64x256xf32>, tensor<256x256xf32>, tensor<256xf32>, tensor<688x256xf32>, tensor<688x256xf32>, tensor<256x688xf32>) -> tensor<1x?x256xf32> {
  ^bb0(%x: tensor<1x?x256xf32>, %c: tensor<?x16xf32>, %s: tensor<?x16xf32>, %ln1: tensor<256xf32>, %wq: tensor<256x256xf32>, %wk: tensor<64x256xf32>, %wv: tensor<64x256xf32>, %wo: tensor<256x256xf32>, %ln2: tensor<256xf32>, %wg: tensor<688x256xf32>, %wu: tensor<688x256xf32>, %wd: tensor<256x688xf32>):
    %n1 = kiln.rms_norm %x, %ln1 eps 1.000000e-06 : tensor<1x?x256xf32>, tensor<256xf32>
    %q = kiln.linear %n1, %wq : tensor<1x?x256xf32>, tensor<256x256xf32> -> tensor<1x?x256xf32>
    %k = kiln.linear %n1, %wk : tensor<1x?x256xf32>, tensor<64x256xf32> -> tensor<1x?x64xf32>
    %v = kiln.linear %n1, %wv : tensor<1x?x256xf32>, tensor<64x256xf32> -> tensor<1x?x64xf32>
    %q_shape = kiln.constant dense<[1, -1, 8, 32]> : tensor<4xi64>
    %kv_shape = kiln.constant dense<[1, -1, 2, 32]> : tensor<4xi64>
    %q4 = kiln.onnx.Reshape %q, %q_shape : (tensor<1x?x256xf32>, tensor<4xi64>) -> tensor<1x?x8x32xf32>
    %k4 = kiln.onnx.Reshape %k, %kv_shape : (tensor<1x?x64xf32>, tensor<4xi64>) -> tensor<1x?x2x32xf32>
    %v4 = kiln.onnx.Reshape %v, %kv_shape : (tensor<1x?x64xf32>, tensor<4xi64>) -> tensor<1x?x2x32xf32>
    %qt = kiln.onnx.Transpose %q4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x8x32xf32>) -> tensor<1x8x?x32xf32>
    %kt = kiln.onnx.Transpose %k4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x32xf32>) -> tensor<1x2x?x32xf32>
    %vt = kiln.onnx.Transpose %v4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x32xf32>) -> tensor<1x2x?x32xf32>
    %qr = kiln.rotary %qt, %c, %s half dim 32 : tensor<1x8x?x32xf32>, tensor<?x16xf32>
    %kr = kiln.rotary %kt, %c, %s half dim 32 : tensor<1x2x?x32xf32>, tensor<?x16xf32>
    %att = kiln.attention %qr, %kr, %vt heads 8 kv_heads 2 head_dim 32 scale 0.176776692 causal
        : tensor<1x8x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32> -> tensor<1x8x?x32xf32>
    %att_t = kiln.onnx.Transpose %att {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x8x?x32xf32>) -> tensor<1x?x8x32xf32>
    %h_shape = kiln.constant dense<[1, -1, 256]> : tensor<3xi64>
    %att_h = kiln.onnx.Reshape %att_t, %h_shape : (tensor<1x?x8x32xf32>, tensor<3xi64>) -> tensor<1x?x256xf32>
    %r1 = kiln.linear %att_h, %wo residual(%x : tensor<1x?x256xf32>) : tensor<1x?x256xf32>, tensor<256x256xf32> -> tensor<1x?x256xf32>
    %n2 = kiln.rms_norm %r1, %ln2 eps 1.000000e-06 : tensor<1x?x256xf32>, tensor<256xf32>
    %gate = kiln.linear %n2, %wg : tensor<1x?x256xf32>, tensor<688x256xf32> -> tensor<1x?x688xf32>
    %up = kiln.linear %n2, %wu : tensor<1x?x256xf32>, tensor<688x256xf32> -> tensor<1x?x688xf32>
    %act = kiln.swiglu %gate, %up : tensor<1x?x688xf32>
    %r2 = kiln.linear %act, %wd residual(%r1 : tensor<1x?x256xf32>) : tensor<1x?x688xf32>, tensor<256x688xf32> -> tensor<1x?x256xf32>
    kiln.yield %r2 : tensor<1x?x256xf32>
  }
  %final = kiln.rms_norm %h4, %norm eps 1.000000e-06 : tensor<1x?x256xf32>, tensor<256xf32>
  %logits = kiln.linear %final, %lm_head : tensor<1x?x256xf32>, tensor<256x256xf32> -> tensor<1x?x256xf32>
  return %logits : tensor<1x?x256xf32>
}
