// REQUIRES: ptxas
// The PTX that kiln-gpu-to-ptx prints is accepted by ptxas for sm_90, and format=bin (MLIR
// calling ptxas itself) yields a cubin (an ELF object).

// RUN: kiln-opt %s -kiln-gpu-to-ptx | %python %kiln_src/python/scripts/kiln-extract-ptx.py - -o %t.ptx
// RUN: %ptxas -arch=sm_90 %t.ptx -o %t.cubin
// RUN: %python -c "import sys; d = open(sys.argv[1], 'rb').read(); sys.exit(0 if d[:4] == b'\x7fELF' else 1)" %t.cubin
// RUN: kiln-opt %s -kiln-gpu-to-ptx="format=bin" | FileCheck %s --check-prefix=BIN

// BIN: gpu.binary @kernels
// BIN-SAME: bin = "\7FELF

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @axpy(%x: memref<?xf32>, %y: memref<?xf32>, %n: index, %a: f32) kernel {
      %bid = gpu.block_id x
      %bdim = gpu.block_dim x
      %tid = gpu.thread_id x
      %base = arith.muli %bid, %bdim : index
      %i = arith.addi %base, %tid : index
      %inside = arith.cmpi ult, %i, %n : index
      scf.if %inside {
        %xv = memref.load %x[%i] : memref<?xf32>
        %yv = memref.load %y[%i] : memref<?xf32>
        %ax = arith.mulf %a, %xv : f32
        %r = arith.addf %ax, %yv : f32
        memref.store %r, %y[%i] : memref<?xf32>
      }
      gpu.return
    }
  }
}
