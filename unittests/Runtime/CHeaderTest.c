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

static int countToken(void *user, int64_t sequence, int64_t token) {
  (void)sequence;
  (void)token;
  ++*(int *)user;
  return 0;
}

/* Generates `n` greedy tokens from a one-token prompt with the model in `data`; returns the
   number of tokens the callback saw, or -status. */
int kilnrt_c_header_generate(const void *data, size_t size, int32_t n) {
  kiln_model *model = NULL;
  kiln_generator *generator = NULL;
  kiln_generator_options options;
  kiln_sampling sampling;
  int64_t prompt[1] = {1};
  int64_t sequence = -1;
  int seen = 0;
  kiln_status status = kiln_model_load_memory(data, size, "from C", &model);
  if (status != KILN_OK)
    return -(int)status;
  kiln_generator_options_init(&options);
  options.max_sequences = 1;
  status = kiln_generator_create(model, &options, &generator);
  kiln_model_destroy(model);
  if (status != KILN_OK)
    return -(int)status;
  kiln_sampling_init(&sampling);
  sampling.max_new_tokens = n;
  status = kiln_generator_add(generator, prompt, 1, &sampling, &sequence);
  if (status == KILN_OK)
    status = kiln_generator_run(generator, countToken, &seen);
  kiln_generator_destroy(generator);
  return status == KILN_OK ? seen : -(int)status;
}
