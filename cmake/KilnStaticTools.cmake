# KILN_STATIC_TOOLS=ON: the tools link MLIR, LLVM, protobuf, the ONNX protobuf classes, zlib, zstd,
# libstdc++ and libgcc statically, so that kiln-compile runs on a machine with nothing but glibc
# (the GPU machine; scripts/build-device-compiler.sh builds, strips and compresses it).
#
# Included from the top-level CMakeLists after KILN_MLIR_LIBS is set and before the
# find_package calls for protobuf, ONNX and zlib. It maps the one shared-library entry point,
# KILN_MLIR_LIBS (MLIR LLVM), to every static MLIR/LLVM archive in one link group: the linker
# takes only the archive members that are referenced, so whatever a tool starts to use (the NVVM
# target, LLVM IR translations, ...) is picked up without a second library list to keep in step,
# and LLVM targets other than the ones referenced (NVPTX) stay out.

# The tests need kiln-opt, kiln-run and GoogleTest builds that this configuration is not for.
if(NOT DEFINED KILN_BUILD_TESTS OR KILN_BUILD_TESTS)
  message(STATUS "KILN_STATIC_TOOLS: setting KILN_BUILD_TESTS=OFF (the static build is for "
                 "kiln-compile)")
  set(KILN_BUILD_TESTS OFF CACHE BOOL "Build Kiln's lit and unit tests" FORCE)
endif()

# --- MLIR and LLVM: all component archives, in one rescanned group ------------------------------
file(GLOB _kiln_mlir_archives "${KILN_LLVM_PREFIX}/lib/libMLIR*.a")
file(GLOB _kiln_llvm_archives "${KILN_LLVM_PREFIX}/lib/libLLVM*.a")
if(NOT _kiln_mlir_archives OR NOT _kiln_llvm_archives)
  message(FATAL_ERROR "KILN_STATIC_TOOLS: no libMLIR*.a / libLLVM*.a in ${KILN_LLVM_PREFIX}/lib "
                      "(Debian ships them in libmlir-22-dev and llvm-22-dev)")
endif()
# LLVMSupport compresses with zlib and zstd (Debian's LLVM is built with both). LLVM's CMake
# config has already made imported targets for the shared ones; point them at the archives.
find_library(KILN_ZLIB_STATIC NAMES libz.a REQUIRED DOC "Static zlib (Debian zlib1g-dev)")
find_library(KILN_ZSTD_STATIC NAMES libzstd.a REQUIRED DOC "Static zstd (Debian libzstd-dev)")
if(TARGET ZLIB::ZLIB)
  set_target_properties(ZLIB::ZLIB PROPERTIES IMPORTED_LOCATION "${KILN_ZLIB_STATIC}"
    IMPORTED_LOCATION_RELEASE "${KILN_ZLIB_STATIC}" IMPORTED_LOCATION_DEBUG "${KILN_ZLIB_STATIC}")
else()
  set(ZLIB_USE_STATIC_LIBS ON)  # for the top-level find_package(ZLIB); CMake >= 3.24
endif()
# add_mlir_library adds the LLVM component Support to every library; with LLVM_LINK_LLVM_DYLIB
# off (below) that is the imported static LLVMSupport, whose interface names libzstd.so and
# libz3.so (Z3 is only for the SMT solver API, which nothing here uses).
if(TARGET LLVMSupport)
  get_target_property(_kiln_support_libs LLVMSupport INTERFACE_LINK_LIBRARIES)
  list(TRANSFORM _kiln_support_libs REPLACE "^zstd::libzstd_shared$" "${KILN_ZSTD_STATIC}")
  list(FILTER _kiln_support_libs EXCLUDE REGEX "libz3")
  set_target_properties(LLVMSupport PROPERTIES INTERFACE_LINK_LIBRARIES "${_kiln_support_libs}")
endif()

# A linker that handles a few hundred archives quickly. lld from LLVM 22 when present (GCC's
# -fuse-ld=lld runs the first `ld.lld` on its program path, so give it a folder holding only that
# one); otherwise the default linker (slower, same result).
find_program(KILN_STATIC_LLD NAMES ld.lld PATHS "${KILN_LLVM_PREFIX}/bin" NO_DEFAULT_PATH)
set(_kiln_static_link_options -static-libstdc++ -static-libgcc LINKER:--gc-sections)
if(KILN_STATIC_LLD)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    list(APPEND _kiln_static_link_options "--ld-path=${KILN_STATIC_LLD}")
  else()
    set(_kiln_lld_dir "${CMAKE_BINARY_DIR}/kiln-static-linker")
    file(MAKE_DIRECTORY "${_kiln_lld_dir}")
    file(CREATE_LINK "${KILN_STATIC_LLD}" "${_kiln_lld_dir}/ld.lld" SYMBOLIC)
    list(APPEND _kiln_static_link_options "-B${_kiln_lld_dir}/" -fuse-ld=lld)
  endif()
  message(STATUS "KILN_STATIC_TOOLS: linking with ${KILN_STATIC_LLD}")
else()
  message(STATUS "KILN_STATIC_TOOLS: no ld.lld in ${KILN_LLVM_PREFIX}/bin (lld-22); "
                 "using the default linker")
endif()

add_library(KilnStaticMLIRLLVM INTERFACE)
string(JOIN "," _kiln_static_archive_list ${_kiln_mlir_archives} ${_kiln_llvm_archives})
target_link_libraries(KilnStaticMLIRLLVM INTERFACE
  "$<LINK_GROUP:RESCAN,${_kiln_static_archive_list}>"
  ZLIB::ZLIB
  "${KILN_ZSTD_STATIC}"
  ${CMAKE_DL_LIBS}
)
target_link_options(KilnStaticMLIRLLVM INTERFACE ${_kiln_static_link_options})
# Everything below the tools links ${KILN_MLIR_LIBS}: this is the one place it changes.
set(KILN_MLIR_LIBS KilnStaticMLIRLLVM)
# Same for LLVM_LINK_COMPONENTS / LINK_COMPONENTS users: static component targets, not libLLVM.so.
set(LLVM_LINK_LLVM_DYLIB OFF)

# --- protobuf: the static archive Debian ships -------------------------------------------------
set(Protobuf_USE_STATIC_LIBS ON)
find_package(Protobuf REQUIRED)

# --- onnx_proto: Debian ships only libonnx_proto.so, so build the same classes here ------------
# The ONNX-ML schema comes with python3-onnx (same ONNX version as libonnx-dev); with its
# LITE_RUNTIME option dropped and Debian's dllexport_decl, protoc 3.21 generates exactly the
# header that libonnx-dev installs, which the build checks (the importer compiles against the
# installed header).
find_path(KILN_ONNX_INCLUDE_DIR onnx/onnx-ml.pb.h REQUIRED DOC "libonnx-dev headers")
find_file(KILN_ONNX_ML_PROTO onnx-ml.proto
          PATHS /usr/lib/python3/dist-packages/onnx
          REQUIRED DOC "ONNX-ML schema (python3-onnx) for the static onnx_proto")
set(_kiln_onnx_gen "${CMAKE_BINARY_DIR}/onnx_proto")
file(READ "${KILN_ONNX_ML_PROTO}" _kiln_onnx_schema)
string(REGEX REPLACE "\noption optimize_for = LITE_RUNTIME;" "" _kiln_onnx_schema
       "${_kiln_onnx_schema}")
file(CONFIGURE OUTPUT "${_kiln_onnx_gen}/proto/onnx/onnx-ml.proto" CONTENT "${_kiln_onnx_schema}"
     @ONLY)
add_custom_command(
  OUTPUT "${_kiln_onnx_gen}/onnx/onnx-ml.pb.cc" "${_kiln_onnx_gen}/onnx/onnx-ml.pb.h"
  COMMAND protobuf::protoc --proto_path=${_kiln_onnx_gen}/proto
          --cpp_out=dllexport_decl=ONNX_API:${_kiln_onnx_gen} onnx/onnx-ml.proto
  COMMAND ${CMAKE_COMMAND} -E compare_files "${_kiln_onnx_gen}/onnx/onnx-ml.pb.h"
          "${KILN_ONNX_INCLUDE_DIR}/onnx/onnx-ml.pb.h"
  DEPENDS "${_kiln_onnx_gen}/proto/onnx/onnx-ml.proto" protobuf::protoc
  COMMENT "Generating the static onnx_proto classes (checked against libonnx-dev's header)"
  VERBATIM)
add_library(onnx_proto STATIC "${_kiln_onnx_gen}/onnx/onnx-ml.pb.cc")
target_include_directories(onnx_proto PRIVATE "${_kiln_onnx_gen}")
target_compile_definitions(onnx_proto PRIVATE ONNX_API= PUBLIC ONNX_NAMESPACE=onnx ONNX_ML=1)
target_compile_options(onnx_proto PRIVATE -w)  # generated code
target_link_libraries(onnx_proto PUBLIC protobuf::libprotobuf)
