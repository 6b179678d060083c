#!/usr/bin/python3
"""Runs ONNX's backend node tests against Kiln's CPU reference executor.

ONNX ships one small test per operator feature: a directory `test_<name>` with `model.onnx` and
one or more `test_data_set_*` directories of `input_<i>.pb` / `output_<i>.pb` TensorProto files.
This runner selects the tests whose every node (subgraphs included) is an op of the default ONNX
domain that Kiln supports (`kiln-compile --list-onnx-ops`) and whose IR version (7-10) and opset
(13-23) Kiln reads (the others are counted, not run), converts each data set into .npy
inputs and one .npz of expected outputs keyed by the graph's output names, and runs

    kiln-run --device=cpu model.onnx --input NAME=input.npy ... --expect expected.npz \\
        --rtol 1e-3 --atol 1e-7

(ONNX's backend test tolerances). With --pass-pipeline (or an op check) the model is first
imported (kiln-compile --emit=mlir), transformed by kiln-opt, checked for the ops it must or must
not contain (--require-op, --forbid-op-feeding-output), and the transformed IR is what kiln-run
executes: a pass is then held to ONNX's expected outputs too (kiln-raise-onnx-expanded.test).
Tests whose graph has a non-tensor input or output (sequence, optional, map) are selected too
when their ops are supported, and fail: Kiln has no such values. String tensors fail as well.
bfloat16 tensors, which numpy lacks, are passed as float32 .npy arrays (exact), so kiln-run must
accept float32 data for bfloat16 graph inputs and compare bfloat16 outputs with float32
references.

usage:
    kiln-onnx-node-tests.py --kiln-bin build/bin [--filter REGEX] [--jobs N]
                            [--xfail FILE] [--report FILE] [--verbose]
                            [--pass-pipeline P] [--require-op OP]...
                            [--forbid-op-feeding-output OP]...
    kiln-onnx-node-tests.py --list-selected --ops-file OPS.txt [--filter REGEX]

    --kiln-bin DIR     where kiln-run and kiln-compile are
    --node-dir DIR     ONNX's node test data (default: Debian's libonnx-testdata)
    --filter REGEX     only tests whose name matches (re.search)
    --jobs N           tests run in parallel (default: the number of CPUs)
    --xfail FILE       test names expected to fail, one per line, '#' starts a comment
    --report FILE      one tab-separated line per test: name, PASS/FAIL/XFAIL/XPASS, and the
                       first line of the error
    --ops-file FILE    the supported op types, one per line, instead of asking kiln-compile
    --list-selected    print the selected test names and exit (no test is run)
    --pass-pipeline P  run the kiln-opt pass pipeline P (e.g.
                       'builtin.module(func.func(kiln-simplify,kiln-raise))') on each imported
                       model and execute the result
    --require-op OP    the IR that runs must contain the op OP (e.g. kiln.layer_norm); repeatable
    --forbid-op-feeding-output OP
                       OP must not compute the graph's first output, directly or through other
                       ops (e.g. kiln.onnx.ReduceMean after raising a norm); repeatable

Exit status: 0 when every selected test passes or fails as the xfail list expects; 1 when a test
not in the list fails, or a listed test passes or (without --filter) does not run (the list is
stale: remove it); 2 on a usage or setup error, or when nothing is selected. A starting xfail
list is the report's failures:
    awk -F'\\t' '$2 == "FAIL" {print $1}' report.txt > xfail.txt

Needs the onnx and numpy Python packages (Debian: python3-onnx, python3-numpy), hence the
interpreter path /usr/bin/python3.
"""

import argparse
import concurrent.futures
import dataclasses
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Dict, Iterable, List, Set, Tuple

import numpy as np
import onnx
from onnx import numpy_helper

DEFAULT_NODE_DIR = "/usr/share/libonnx-testdata/data/node"
DEFAULT_DOMAINS = ("", "ai.onnx")
# onnx/backend/test/runner/__init__.py compares outputs with these tolerances.
RTOL = 1e-3
ATOL = 1e-7
TIMEOUT_S = 120
# What the importer reads (docs/Importer.md).
MIN_IR_VERSION, MAX_IR_VERSION = 7, 10
MIN_OPSET, MAX_OPSET = 13, 23


@dataclasses.dataclass
class TestResult:
    name: str
    passed: bool
    error: str = ""  # First line of the error when the test failed.
    status: str = ""  # PASS, FAIL, XFAIL or XPASS, once the xfail list is applied.


def read_name_list(path: Path) -> List[str]:
    """Names one per line; blank lines and '#' comments (whole-line or trailing) are skipped."""
    names = []
    for line in path.read_text().splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.append(name)
    return names


def query_supported_ops(kiln_bin: Path) -> Set[str]:
    compile_tool = kiln_bin / "kiln-compile"
    result = subprocess.run([str(compile_tool), "--list-onnx-ops"], capture_output=True,
                            text=True, timeout=TIMEOUT_S)
    if result.returncode != 0:
        raise RuntimeError(f"{compile_tool} --list-onnx-ops failed ({result.returncode}): "
                           f"{result.stderr.strip()}")
    return {line.strip() for line in result.stdout.splitlines() if line.strip()}


def find_tests(node_dir: Path) -> List[Path]:
    """The test directories (those with a model.onnx), sorted by name."""
    return sorted(path.parent for path in node_dir.glob("*/model.onnx"))


def iterate_nodes(graph: onnx.GraphProto) -> Iterable[onnx.NodeProto]:
    """Every node of `graph`, including the nodes of subgraphs (If, Loop, Scan bodies)."""
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from iterate_nodes(attribute.g)
            elif attribute.type == onnx.AttributeProto.GRAPHS:
                for subgraph in attribute.graphs:
                    yield from iterate_nodes(subgraph)


def is_selected(model: onnx.ModelProto, supported_ops: Set[str]) -> bool:
    return all(node.domain in DEFAULT_DOMAINS and node.op_type in supported_ops
               for node in iterate_nodes(model.graph))


def in_kiln_range(model: onnx.ModelProto) -> bool:
    """Whether the model's IR version and default-domain opset are ones Kiln reads."""
    opsets = [o.version for o in model.opset_import if o.domain in DEFAULT_DOMAINS]
    return (MIN_IR_VERSION <= model.ir_version <= MAX_IR_VERSION and
            bool(opsets) and MIN_OPSET <= max(opsets) <= MAX_OPSET)


def select_tests(tests: List[Path], supported_ops: Set[str]) -> Tuple[List[Path], List[Path]]:
    """The tests of supported ops Kiln runs, and those it skips because the model's IR version
    or opset is older than Kiln reads (ONNX keeps tests of old opsets next to the new ones)."""
    selected, out_of_range = [], []
    for test in tests:
        try:
            model = onnx.load(str(test / "model.onnx"))
        except Exception as error:  # A broken model is not a test of a supported op.
            print(f"warning: {test.name}: cannot load model.onnx: {error}", file=sys.stderr)
            continue
        if is_selected(model, supported_ops):
            (selected if in_kiln_range(model) else out_of_range).append(test)
    return selected, out_of_range


def read_tensor(path: Path) -> np.ndarray:
    tensor = onnx.TensorProto()
    tensor.ParseFromString(path.read_bytes())
    array = numpy_helper.to_array(tensor)
    if array.dtype == object:
        raise ValueError(f"{path.name}: string tensors are not supported")
    return array


def to_numpy_representation(array: np.ndarray, elem_type: int) -> np.ndarray:
    """numpy has no bfloat16: bfloat16 tensors become float32 (exact). ONNX's test data hold them
    as uint16 bit patterns (data_type UINT16 although the graph declares BFLOAT16)."""
    if elem_type != onnx.TensorProto.BFLOAT16:
        return array
    if array.dtype == np.uint16:
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array.astype(np.float32)


def numbered_files(data_set: Path, prefix: str) -> List[Path]:
    """input_0.pb, input_1.pb, ..., input_10.pb in numeric order."""
    files = data_set.glob(f"{prefix}_*.pb")
    return sorted(files, key=lambda path: int(path.stem.rsplit("_", 1)[1]))


def write_npz(path: Path, arrays: Dict[str, np.ndarray]) -> None:
    """Like np.savez, but any string is a valid name (np.savez(file=...) would clash)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def first_error_line(result: subprocess.CompletedProcess) -> str:
    """The most telling line of a failed kiln-run: its first error, else its first mismatch."""
    stderr_lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    stdout_lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    if result.returncode < 0:
        try:
            signal_name = signal.Signals(-result.returncode).name
        except ValueError:
            signal_name = f"signal {-result.returncode}"
        # The first line of a crash is the assertion or error that caused it, if any.
        return f"kiln-run crashed ({signal_name})" + (f": {stderr_lines[0]}" if stderr_lines
                                                        else "")
    if stderr_lines:
        return stderr_lines[0]
    for line in stdout_lines:
        if re.search(r"mismatch|fail|error", line, re.IGNORECASE):
            return line
    if stdout_lines:
        return stdout_lines[0]
    return f"kiln-run exited with status {result.returncode}"


@dataclasses.dataclass
class IrOptions:
    """What is done to a model before kiln-run executes it (nothing by default)."""
    kiln_compile: Path
    kiln_opt: Path
    pass_pipeline: str = ""
    required_ops: List[str] = dataclasses.field(default_factory=list)
    forbidden_output_ops: List[str] = dataclasses.field(default_factory=list)

    def active(self) -> bool:
        return bool(self.pass_pipeline or self.required_ops or self.forbidden_output_ops)


# `%a = op`, `%a, %b = op`, `%a:2 = op`: the results a line of MLIR defines, and its op name.
DEFINITION = re.compile(r"^\s*((?:%[\w.$-]+(?::\d+)?\s*,\s*)*%[\w.$-]+(?::\d+)?)\s*=\s*"
                        r"([\w.]+)(.*)$")
SSA_USE = re.compile(r"%([\w.$-]+)(?:#\d+)?")


def ops_feeding_first_output(mlir: str) -> Set[str]:
    """The op names in the backward slice of the first operand of the first func.return, read
    from the IR as kiln-opt prints it: one op per line, its operands the %names after the `=`."""
    defining: Dict[str, Tuple[str, List[str]]] = {}
    returned: List[str] = []
    for line in mlir.splitlines():
        line = line.split(" loc(", 1)[0]
        definition = DEFINITION.match(line)
        if definition:
            results, op_name, rest = definition.groups()
            operands = SSA_USE.findall(rest)
            for result in results.split(","):
                defining[result.strip().lstrip("%").split(":", 1)[0]] = (op_name, operands)
        elif line.strip().startswith("return") and not returned:
            returned = SSA_USE.findall(line)
    seen: Set[str] = set()
    ops: Set[str] = set()
    stack = returned[:1]
    while stack:
        value = stack.pop()
        if value in seen or value not in defining:
            continue
        seen.add(value)
        op_name, operands = defining[value]
        ops.add(op_name)
        stack.extend(operands)
    return ops


def prepare_ir(test: Path, work: Path, ir: IrOptions) -> Tuple[Path, str]:
    """Imports the model, runs the pass pipeline and checks the ops; returns the IR file to
    run, or an error."""
    imported, transformed = work / "imported.mlir", work / "transformed.mlir"
    steps = [[str(ir.kiln_compile), str(test / "model.onnx"), "--emit=mlir", "-o", str(imported)]]
    if ir.pass_pipeline:
        steps.append([str(ir.kiln_opt), f"--pass-pipeline={ir.pass_pipeline}", str(imported),
                      "-o", str(transformed)])
    else:
        transformed = imported
    for command in steps:
        result = subprocess.run(command, capture_output=True, text=True, errors="replace",
                                timeout=TIMEOUT_S)
        if result.returncode != 0:
            tool = Path(command[0]).name
            return transformed, f"{tool} failed: {first_error_line(result)}"
    mlir = transformed.read_text()
    for op in ir.required_ops:
        if not re.search(rf"(?<![\w.]){re.escape(op)}(?![\w.])", mlir):
            return transformed, f"the IR that runs has no {op}"
    feeding = ops_feeding_first_output(mlir)
    for op in ir.forbidden_output_ops:
        if op in feeding:
            return transformed, f"{op} still computes the first output in the IR that runs"
    return transformed, ""


def run_test(test: Path, kiln_run: Path, ir: IrOptions) -> TestResult:
    """Runs every data set of one test; the first failure ends it."""
    name = test.name
    try:
        model = onnx.load(str(test / "model.onnx"))
    except Exception as error:
        return TestResult(name, False, f"cannot load model.onnx: {error}")
    graph = model.graph
    for value, role in [(value, "input") for value in graph.input] + \
                       [(value, "output") for value in graph.output]:
        kind = value.type.WhichOneof("value")
        if kind != "tensor_type":
            return TestResult(name, False, f"non-tensor graph {role} '{value.name}' ({kind})")
    initializers = {tensor.name for tensor in graph.initializer}
    graph_inputs = [value for value in graph.input if value.name not in initializers]
    input_names = [value.name for value in graph_inputs]
    output_names = [value.name for value in graph.output]
    input_types = [value.type.tensor_type.elem_type for value in graph_inputs]
    output_types = [value.type.tensor_type.elem_type for value in graph.output]

    data_sets = sorted(test.glob("test_data_set_*"))
    if not data_sets:
        return TestResult(name, False, "no test_data_set_* directory")
    deadline = time.monotonic() + TIMEOUT_S
    with tempfile.TemporaryDirectory(prefix=f"kiln-{name}-") as temp:
        model_path = test / "model.onnx"
        if ir.active():
            try:
                model_path, error = prepare_ir(test, Path(temp), ir)
            except subprocess.TimeoutExpired:
                error = f"timed out after {TIMEOUT_S} s"
            if error:
                return TestResult(name, False, error)
        for data_set in data_sets:
            work = Path(temp) / data_set.name
            work.mkdir()
            command = [str(kiln_run), "--device=cpu", str(model_path)]
            try:
                inputs = numbered_files(data_set, "input")
                outputs = numbered_files(data_set, "output")
                if len(inputs) > len(input_names) or len(outputs) > len(output_names):
                    return TestResult(name, False, f"{data_set.name}: more .pb files than graph "
                                                   f"inputs/outputs")
                for index, path in enumerate(inputs):
                    npy = work / f"input_{index}.npy"
                    array = to_numpy_representation(read_tensor(path), input_types[index])
                    np.save(npy, array, allow_pickle=False)
                    command += ["--input", f"{input_names[index]}={npy}"]
                expected = {
                    output_names[index]: to_numpy_representation(read_tensor(path),
                                                                  output_types[index])
                    for index, path in enumerate(outputs)}
                write_npz(work / "expected.npz", expected)
            except Exception as error:  # Unsupported dtypes (strings), corrupt .pb files.
                message = str(error).splitlines()[0] if str(error) else repr(error)
                return TestResult(name, False,
                                  f"{data_set.name}: cannot convert the test data: {message}")
            command += ["--expect", str(work / "expected.npz"),
                        "--rtol", str(RTOL), "--atol", str(ATOL)]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return TestResult(name, False, f"timed out after {TIMEOUT_S} s")
            try:
                result = subprocess.run(command, capture_output=True, text=True,
                                        errors="replace", timeout=remaining)
            except subprocess.TimeoutExpired:
                return TestResult(name, False, f"timed out after {TIMEOUT_S} s")
            if result.returncode != 0:
                error = first_error_line(result)
                if len(data_sets) > 1:
                    error = f"{data_set.name}: {error}"
                return TestResult(name, False, error)
    return TestResult(name, True)


def apply_xfail(results: List[TestResult], xfail: Set[str]) -> None:
    for result in results:
        expected_to_fail = result.name in xfail
        if result.passed:
            result.status = "XPASS" if expected_to_fail else "PASS"
        else:
            result.status = "XFAIL" if expected_to_fail else "FAIL"


def write_report(path: Path, results: List[TestResult]) -> None:
    with open(path, "w") as report:
        for result in results:
            report.write(f"{result.name}\t{result.status}\t{result.error}\n")


def regex(pattern: str) -> "re.Pattern[str]":
    try:
        return re.compile(pattern)
    except re.error as error:
        raise argparse.ArgumentTypeError(f"invalid regular expression {pattern!r}: {error}")


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run ONNX's backend node tests against Kiln's CPU executor.",
        epilog="See the module docstring (head of this file) for details.")
    parser.add_argument("--kiln-bin", type=Path, help="directory of kiln-run and kiln-compile")
    parser.add_argument("--node-dir", type=Path, default=Path(DEFAULT_NODE_DIR),
                        help=f"ONNX node test data (default: {DEFAULT_NODE_DIR})")
    parser.add_argument("--filter", type=regex, help="only tests whose name matches")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1,
                        help="tests run in parallel (default: the number of CPUs)")
    parser.add_argument("--xfail", type=Path, help="file of test names expected to fail")
    parser.add_argument("--report", type=Path, help="write one line per test to this file")
    parser.add_argument("--ops-file", type=Path,
                        help="supported op types, one per line (instead of kiln-compile)")
    parser.add_argument("--list-selected", action="store_true",
                        help="print the selected test names and exit")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every result")
    parser.add_argument("--pass-pipeline", default="",
                        help="kiln-opt pass pipeline run on each imported model before it runs")
    parser.add_argument("--require-op", action="append", default=[], metavar="OP",
                        help="the IR that runs must contain this op (repeatable)")
    parser.add_argument("--forbid-op-feeding-output", action="append", default=[], metavar="OP",
                        help="this op must not compute the first graph output (repeatable)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if not args.list_selected and args.kiln_bin is None:
        parser.error("--kiln-bin is required to run tests")
    if args.list_selected and args.kiln_bin is None and args.ops_file is None:
        parser.error("--list-selected needs --ops-file or --kiln-bin")
    return args


def main(argv: List[str]) -> int:
    args = parse_args(argv)
    if not args.node_dir.is_dir():
        print(f"error: no node test directory {args.node_dir}", file=sys.stderr)
        return 2
    try:
        if args.ops_file:
            supported_ops = set(read_name_list(args.ops_file))
        else:
            supported_ops = query_supported_ops(args.kiln_bin)
        xfail = set(read_name_list(args.xfail)) if args.xfail else set()
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    all_tests = find_tests(args.node_dir)
    tests = [test for test in all_tests if not args.filter or args.filter.search(test.name)]
    selected, out_of_range = select_tests(tests, supported_ops)
    if args.list_selected:
        for test in selected:
            print(test.name)
        return 0

    if not selected:
        print("error: no test selected (node test names are snake_case, e.g. "
              "--filter layer_normalization)", file=sys.stderr)
        return 2

    kiln_run = args.kiln_bin / "kiln-run"
    ir = IrOptions(args.kiln_bin / "kiln-compile", args.kiln_bin / "kiln-opt",
                   args.pass_pipeline, args.require_op, args.forbid_op_feeding_output)
    tools = [kiln_run] + ([ir.kiln_compile, ir.kiln_opt] if ir.active() else [])
    for tool in tools:
        if not os.access(tool, os.X_OK):
            print(f"error: {tool} is not an executable", file=sys.stderr)
            return 2
    results: List[TestResult] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_test, test, kiln_run, ir): test for test in selected}
        for future in concurrent.futures.as_completed(futures):
            try:
                result = future.result()
            except Exception as error:  # A bug of the runner fails one test, not the run.
                result = TestResult(futures[future].name, False, f"runner error: {error!r}")
            results.append(result)
            # Unexpected outcomes (FAIL, XPASS) are shown as they come, the rest with --verbose.
            unexpected = result.passed == (result.name in xfail)
            if args.verbose or unexpected:
                state = "passed" if result.passed else f"failed: {result.error}"
                print(f"{result.name}: {state}", flush=True)
    results.sort(key=lambda result: result.name)
    apply_xfail(results, xfail)
    if args.report:
        write_report(args.report, results)

    by_status: Dict[str, List[TestResult]] = {"PASS": [], "FAIL": [], "XFAIL": [], "XPASS": []}
    for result in results:
        by_status[result.status].append(result)
    print()
    print(f"ONNX node tests in {args.node_dir}: {len(all_tests)}")
    if args.filter:
        print(f"matching --filter {args.filter.pattern!r}: {len(tests)}")
    if args.pass_pipeline:
        print(f"after --pass-pipeline {args.pass_pipeline!r}")
    print(f"every op supported by Kiln: {len(selected) + len(out_of_range)}")
    print(f"  not run, IR version < {MIN_IR_VERSION} or opset < {MIN_OPSET}: {len(out_of_range)}")
    print(f"  run: {len(selected)}")
    print(f"passed: {len(by_status['PASS'])}")
    print(f"failed: {len(by_status['FAIL'])}")
    for result in by_status["FAIL"]:
        print(f"  {result.name}: {result.error}")
    print(f"expected failures (xfail): {len(by_status['XFAIL'])}")
    print(f"unexpected passes (xpass): {len(by_status['XPASS'])}"
          + (f" - remove them from {args.xfail}" if by_status["XPASS"] else ""))
    for result in by_status["XPASS"]:
        print(f"  {result.name}")
    not_run = sorted(xfail - {result.name for result in results})
    # Without --filter every xfail entry must name a test that runs: a typo or a test that
    # disappeared would otherwise sit in the list forever.
    stale = not_run if not args.filter else []
    if stale:
        print(f"xfail entries that name no test run here (remove them from {args.xfail}): "
              f"{', '.join(stale)}")
    elif not_run and args.verbose:
        print(f"xfail entries not selected in this run: {', '.join(not_run)}")
    return 1 if by_status["FAIL"] or by_status["XPASS"] or stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
