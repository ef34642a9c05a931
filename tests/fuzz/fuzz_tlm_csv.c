/* Fuzz the telemetry csv parser: reject or accept, never crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include "tlm_batch_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tlm_fuzz_batch(astro_tlm_parse_csv, data, size);
	return 0;
}
