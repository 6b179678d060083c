# -*- Python -*-
# lit configuration of the Kiln test suite.

import os

import lit.formats
from lit.llvm import llvm_config

config.name = "KILN"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.kiln_obj_root, "test")
config.excludes = ["CMakeLists.txt", "README.md", "lit.cfg.py", "lit.site.cfg.py", "Inputs"]

config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%kiln_src", config.kiln_src_root))
config.substitutions.append(("%kiln_bin", config.kiln_tools_dir))

# The GPU machine runs only test/Integration, with no LLVM tools (scripts/device/
# run-integration.sh sets kiln_runtime_only): no FileCheck/not/count there.
if not getattr(config, "kiln_runtime_only", False):
    llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [config.kiln_tools_dir, config.llvm_tools_dir]
tools = ["kiln-opt", "kiln-compile", "kiln-run", "kiln-import-corpus"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# `ptxas` (CUDA toolkit): PTX is assembled for sm_90 where it exists; machines without it skip
# those tests instead of failing.
if config.ptxas_executable and os.path.exists(config.ptxas_executable):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", config.ptxas_executable))

# ONNX's backend node tests (Debian's libonnx-testdata) are the executor's external reference;
# their runner needs python3-onnx. scripts/test.sh (and so CI) sets KILN_REQUIRE_ONNX_NODE_TESTS
# so that a missing piece is an error there instead of a silently skipped test.
import subprocess

onnx_node_dir = "/usr/share/libonnx-testdata/data/node"
has_python_onnx = subprocess.run([config.python_executable, "-c", "import onnx, numpy"],
                                 capture_output=True).returncode == 0
if os.path.isdir(onnx_node_dir) and has_python_onnx:
    config.available_features.add("onnx-node-tests")
elif os.environ.get("KILN_REQUIRE_ONNX_NODE_TESTS"):
    lit_config.fatal("KILN_REQUIRE_ONNX_NODE_TESTS is set but the ONNX node tests cannot run: "
                     f"need {onnx_node_dir} (libonnx-testdata) and python3-onnx for "
                     f"{config.python_executable}")
