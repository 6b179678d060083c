// RUN: kiln-opt %s -split-input-file -pass-pipeline='builtin.module(gpu.module(kiln-approximate-math))' | FileCheck %s
// RUN: kiln-opt %s -split-input-file -kiln-gpu-to-ptx | FileCheck %s --check-prefix=PTX

// Transcendentals become polynomials (fma kept: the polynomials rely on it); sqrt and floor
// become LLVM intrinsic calls, which NVPTX lowers to single instructions. No libdevice.
// CHECK-LABEL: gpu.func @transcendentals
// CHECK-NOT: math.exp
// CHECK-NOT: math.tanh
// CHECK-NOT: math.erf
// CHECK: math.fma
// CHECK: llvm.call_intrinsic "llvm.sqrt"
// CHECK: llvm.call_intrinsic "llvm.floor"
// PTX: sqrt.rn.f32
// PTX: cvt.rmi.f32.f32
// PTX-NOT: __nv_
gpu.module @kernels {
  gpu.func @transcendentals(%a: f32, %out: memref<4xf32>) kernel {
    %0 = math.exp %a : f32
    %1 = math.tanh %0 : f32
    %2 = math.erf %1 : f32
    %3 = math.sqrt %2 : f32
    %4 = math.floor %3 : f32
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    memref.store %2, %out[%c0] : memref<4xf32>
    memref.store %4, %out[%c1] : memref<4xf32>
    gpu.return
  }
}

// -----

// f16 math goes through f32.
// CHECK-LABEL: gpu.func @half
// CHECK: arith.extf
// CHECK-NOT: math.exp
// CHECK: arith.truncf
gpu.module @kernels {
  gpu.func @half(%a: f16, %out: memref<1xf16>) kernel {
    %0 = math.exp %a : f16
    %c0 = arith.constant 0 : index
    memref.store %0, %out[%c0] : memref<1xf16>
    gpu.return
  }
}
