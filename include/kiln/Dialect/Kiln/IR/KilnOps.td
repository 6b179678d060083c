//===- KilnOps.td - all kiln ops ---------------------------*- tablegen -*-===//
//
// The single entry point for TableGen: the dialect, its types and attributes, and the four op
// families (graph, transformer, structure, launch plan).
//
//===----------------------------------------------------------------------===//

#ifndef KILN_DIALECT_KILN_IR_KILNOPS_TD
#define KILN_DIALECT_KILN_IR_KILNOPS_TD

include "kiln/Dialect/Kiln/IR/KilnBase.td"
include "kiln/Dialect/Kiln/IR/KilnAttrs.td"
include "kiln/Dialect/Kiln/IR/KilnTypes.td"
include "kiln/Dialect/Kiln/IR/KilnGraphOps.td"
include "kiln/Dialect/Kiln/IR/KilnTransformerOps.td"
include "kiln/Dialect/Kiln/IR/KilnStructureOps.td"
include "kiln/Dialect/Kiln/IR/KilnLaunchOps.td"

#endif // KILN_DIALECT_KILN_IR_KILNOPS_TD
