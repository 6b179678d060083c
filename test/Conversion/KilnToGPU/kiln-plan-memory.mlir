// RUN: kiln-opt %s -kiln-plan-memory -split-input-file -verify-diagnostics | FileCheck %s

// A chain of three launches: the first result is dead once the second has read it, so the third
// reuses its bytes; the argument and the returned value live throughout.
// CHECK-LABEL: func.func @main
// CHECK-SAME: kiln.arena_bytes = 1024 : i64, kiln.arena_offset = 0 : i64
// CHECK-SAME: kiln.arena_size = 3072 : i64
// CHECK: kiln.launch {{.*}} {kiln.arena_bytes = array<i64: 1024>, kiln.arena_offsets = array<i64: [[A:[0-9]+]]>}
// CHECK: kiln.launch {{.*}} {kiln.arena_bytes = array<i64: 1024>, kiln.arena_offsets = array<i64: [[B:[0-9]+]]>}
// CHECK: kiln.launch {{.*}} {kiln.arena_bytes = array<i64: 1024>, kiln.arena_offsets = array<i64: [[A]]>}
module attributes {gpu.container_module} {
  func.func @main(%x: tensor<256xf32> {kiln.name = "x"}) -> tensor<256xf32>
      attributes {kiln.dim_bounds = {}} {
    %c1 = arith.constant 1 : index
    %a = kiln.launch @kiln_kernels::@copy(%x) grid(%c1, %c1, %c1) block [256, 1, 1]
        : (tensor<256xf32>) -> tensor<256xf32>
    %b = kiln.launch @kiln_kernels::@copy(%a) grid(%c1, %c1, %c1) block [256, 1, 1]
        : (tensor<256xf32>) -> tensor<256xf32>
    %c = kiln.launch @kiln_kernels::@copy(%b) grid(%c1, %c1, %c1) block [256, 1, 1]
        : (tensor<256xf32>) -> tensor<256xf32>
    return %c : tensor<256xf32>
  }
  gpu.module @kiln_kernels {
    gpu.func @copy(%in: memref<?xf32, #gpu.address_space<global>>,
                   %out: memref<?xf32, #gpu.address_space<global>>) kernel {
      gpu.return
    }
  }
}

// -----

// Dynamic dims are sized at their bound: seq <= 64 rows of 16 f16 = 2048 bytes; a view shares
// its source's buffer and keeps it alive until the view's last reader.
// CHECK-LABEL: func.func @main
// CHECK-SAME: kiln.arena_bytes = 512 : i64
// CHECK: kiln.launch {{.*}}kiln.arena_bytes = array<i64: 2048>, kiln.arena_offsets = array<i64: [[V:[0-9]+]]>
// CHECK: kiln.view
// CHECK: kiln.launch {{.*}}kiln.arena_bytes = array<i64: 2048>, kiln.arena_offsets = array<i64: [[W:[0-9]+]]>
module attributes {gpu.container_module} {
  func.func @main(%ids: tensor<1x?xi64> {kiln.dim_params = ["", "seq"], kiln.name = "ids"})
      -> tensor<?x16xf16> attributes {kiln.dim_bounds = {seq = 64 : i64}} {
    %c1 = arith.constant 1 : index
    %seq = tensor.dim %ids, %c1 : tensor<1x?xi64>
    %a = kiln.launch @kiln_kernels::@embed(%ids) grid(%seq, %c1, %c1) block [16, 1, 1]
        dims(%seq) : (tensor<1x?xi64>) -> tensor<1x?x16xf16>
    %v = kiln.view %a dims(%seq) : tensor<1x?x16xf16> to tensor<?x16xf16>
    %b = kiln.launch @kiln_kernels::@embed2(%v) grid(%seq, %c1, %c1) block [16, 1, 1]
        dims(%seq) : (tensor<?x16xf16>) -> tensor<?x16xf16>
    return %b : tensor<?x16xf16>
  }
  gpu.module @kiln_kernels {
    gpu.func @embed(%in: memref<?xi64, #gpu.address_space<global>>,
                    %out: memref<?xf16, #gpu.address_space<global>>) kernel {
      gpu.return
    }
    gpu.func @embed2(%in: memref<?xf16, #gpu.address_space<global>>,
                     %out: memref<?xf16, #gpu.address_space<global>>) kernel {
      gpu.return
    }
  }
}

// -----

// A dynamic argument dim without a bound cannot be sized.
module attributes {gpu.container_module} {
  // expected-error @+1 {{dynamic dim 'seq' has no bound in kiln.dim_bounds}}
  func.func @main(%ids: tensor<1x?xi64> {kiln.dim_params = ["", "seq"]}) -> tensor<1x?xi64>
      attributes {kiln.dim_bounds = {}} {
    return %ids : tensor<1x?xi64>
  }
}

// -----

// Sizes need not grow with the dims: the last 3 of `s` elements up to index 2 hold
// max(0, min(s, 2) - max(s - 3, 0)) elements, 0 at the bound 64 but 2 at s = 2 or 3. The
// buffer is sized for the largest (2 f32 = 8 bytes), not the value at the bound.
// CHECK-LABEL: func.func @main
// CHECK: kiln.launch {{.*}}kiln.arena_bytes = array<i64: 8>
module attributes {gpu.container_module} {
  func.func @main(%x: tensor<?xf32> {kiln.dim_params = ["s"], kiln.name = "x"}) -> tensor<?xf32>
      attributes {kiln.dim_bounds = {s = 64 : i64}} {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c3 = arith.constant 3 : index
    %s = tensor.dim %x, %c0 : tensor<?xf32>
    %end = arith.minsi %s, %c2 : index
    %shifted = arith.subi %s, %c3 : index
    %start = arith.maxsi %shifted, %c0 : index
    %len = arith.subi %end, %start : index
    %n = arith.maxsi %len, %c0 : index
    %r = kiln.launch @kiln_kernels::@slice(%x) grid(%c1, %c1, %c1) block [32, 1, 1] dims(%n)
        : (tensor<?xf32>) -> tensor<?xf32>
    return %r : tensor<?xf32>
  }
  gpu.module @kiln_kernels {
    gpu.func @slice(%in: memref<?xf32, #gpu.address_space<global>>,
                    %out: memref<?xf32, #gpu.address_space<global>>) kernel {
      gpu.return
    }
  }
}
