/*===- CHeaderTest.c - kilnrt.h compiles as C (C99, -Wall -Wextra -pedantic) ------------===*
 * A small C client of the API; CApiTest.cpp calls it. */

#include "kilnrt/kilnrt.h"

#include <string.h>

/* Loads `size` bytes of artifact and returns the rank of its first input, or -status. */
int kilnrt_c_header_first_input_rank(const void *data, size_t size) {
  kiln_model *model = NULL;
  kiln_tensor_info info;
  kiln_status status = kiln_model_load_memory(data, size, "from C", &model);
  if (status != KILN_OK)
    return -(int)status;
  memset(&info, 0, sizeof info);
  status = kiln_model_input_info(model, 0, &info);
  kiln_model_destroy(model);
  return status == KILN_OK ? info.rank : -(int)status;
}
