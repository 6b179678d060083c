// RUN: kiln-opt %s -split-input-file -verify-diagnostics -kiln-gpu-to-ptx | FileCheck %s
// RUN: kiln-opt %s -split-input-file -verify-diagnostics -kiln-gpu-to-ptx="chip=sm_80 features=+ptx75" | FileCheck %s --check-prefix=SM80

// A tiny elementwise kernel goes through NVVM to PTX text for sm_90.

// CHECK-LABEL: gpu.binary @scale_kernels
// CHECK-SAME: #nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">
// CHECK-SAME: .target sm_90
// CHECK-SAME: .visible .entry scale(
// CHECK-SAME: mul.rn.f32
// CHECK-SAME: st.global.b32
// SM80-LABEL: gpu.binary @scale_kernels
// SM80-SAME: .target sm_80
module attributes {gpu.container_module} {
  gpu.module @scale_kernels {
    gpu.func @scale(%in: memref<?xf32>, %out: memref<?xf32>, %n: index, %s: f32) kernel {
      %bid = gpu.block_id x
      %bdim = gpu.block_dim x
      %tid = gpu.thread_id x
      %base = arith.muli %bid, %bdim : index
      %i = arith.addi %base, %tid : index
      %inside = arith.cmpi ult, %i, %n : index
      scf.if %inside {
        %v = memref.load %in[%i] : memref<?xf32>
        %r = arith.mulf %v, %s : f32
        memref.store %r, %out[%i] : memref<?xf32>
      }
      gpu.return
    }
  }
}

// -----

// A warp reduction: shuffles lower to shfl.sync.

// CHECK-LABEL: gpu.binary @reduce_kernels
// CHECK-SAME: shfl.sync.bfly.b32
module attributes {gpu.container_module} {
  gpu.module @reduce_kernels {
    gpu.func @warp_sum(%in: memref<32xf32>, %out: memref<1xf32>) kernel {
      %tid = gpu.thread_id x
      %v = memref.load %in[%tid] : memref<32xf32>
      %sum = gpu.all_reduce add %v uniform {} : (f32) -> (f32)
      %c0 = arith.constant 0 : index
      memref.store %sum, %out[%c0] : memref<1xf32>
      gpu.return
    }
  }
}

// -----

// Negative case: a kernel using an op the NVVM lowering does not handle (a tensor op) stops
// the pipeline with diagnostics instead of producing a binary. (Upstream's conversion is
// partial, so the failure surfaces at serialization; a check before it is future work.)

module attributes {gpu.container_module} {
  // expected-error @+2 {{Failed creating the llvm::Module}}
  // expected-error @+1 {{An error happened while serializing the module}}
  gpu.module @bad_kernels {
    gpu.func @uses_tensor(%out: memref<4xf32>) kernel {
      // expected-error @+1 {{LLVM Translation failed for operation: builtin.unrealized_conversion_cast}}
      %c0 = arith.constant 0 : index
      %t = tensor.empty() : tensor<4xf32>
      %v = tensor.extract %t[%c0] : tensor<4xf32>
      memref.store %v, %out[%c0] : memref<4xf32>
      gpu.return
    }
  }
}
