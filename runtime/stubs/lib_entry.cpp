//===- lib_entry.cpp - the stub of kiln-compile --emit=lib ---------------------------------===//
//
// libkiln-lib-stub.so is libkilnrt (its objects, with the C API exported) plus the entry points
// below. kiln-compile copies it and appends the artifact (kilnrt::appendArtifactToStub); the
// entry points find the library's own file with dladdr and read the artifact back. A program
// links only the generated library and includes kilnrt.h.
//
//===----------------------------------------------------------------------------------------===//

#include "Session.h"
#include "kilnrt/Artifact.h"
#include "kilnrt/kilnrt.h"

#include <dlfcn.h>
#include <string>
#include <vector>

namespace {

std::string selfPath() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&kiln_model_open), &info) && info.dli_fname)
    return info.dli_fname;
  return "";
}

} // namespace

extern "C" {

KILNRT_API const char *kiln_model_embedded_path(void) {
  static const std::string path = selfPath();
  return path.c_str();
}

KILNRT_API kiln_status kiln_model_open_embedded(kiln_model **model) {
  if (!model) {
    kilnrt::setThreadLastError("kiln_model_open_embedded: model is null");
    return KILN_ERROR_INVALID_ARGUMENT;
  }
  *model = nullptr;
  try {
    std::string path = kiln_model_embedded_path();
    std::vector<uint8_t> artifact;
    std::string error;
    if (path.empty() || !kilnrt::findEmbeddedArtifact(path, artifact, error)) {
      kilnrt::setThreadLastError(path.empty() ? "cannot find the library's own file (dladdr failed)"
                                              : error);
      return KILN_ERROR_IO;
    }
    std::string name = path.substr(path.find_last_of('/') + 1);
    return kiln_model_load_memory(artifact.data(), artifact.size(), name.c_str(), model);
  } catch (...) {
    kilnrt::setThreadLastError("out of host memory");
    return KILN_ERROR_OUT_OF_MEMORY;
  }
}

KILNRT_API kiln_status kiln_model_open(int device, kiln_session **session) {
  if (!session) {
    kilnrt::setThreadLastError("kiln_model_open: session is null");
    return KILN_ERROR_INVALID_ARGUMENT;
  }
  *session = nullptr;
  kiln_model *model = nullptr;
  kiln_status status = kiln_model_open_embedded(&model);
  if (status != KILN_OK)
    return status;
  kiln_session_options options;
  kiln_session_options_init(&options);
  options.device = device;
  status = kiln_session_create(model, &options, session);
  kiln_model_destroy(model);
  return status;
}

} // extern "C"
