// The output-file option of -kiln-report: the report goes to the file (the IR is unchanged), and
// a path that cannot be opened is an error on the module naming the file and the reason.

// RUN: kiln-opt %S/Inputs/one-attention.mlir -kiln-report=output-file=%t.report | FileCheck %s --check-prefix=IR
// RUN: FileCheck %s --input-file=%t.report
// RUN: kiln-opt %s -kiln-report=output-file=%t.missing-dir/report.txt -verify-diagnostics -o /dev/null

// IR-NOT: kiln-report
// IR: func.func @one_attention
// IR: kiln.attention

// CHECK-LABEL: kiln-report @one_attention
// CHECK: attention: 1 (heads 4, kv_heads 2, head_dim 32 x1; causal 1, masked 0)

// expected-error @+1 {{kiln-report: cannot open output file}}
module {
  func.func @f() {
    return
  }
}
