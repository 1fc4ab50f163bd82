/* libFuzzer target: arbitrary USB traffic into the simulated ST-Link. The
 * input is a sequence of transfers, each one byte of header (bit 7: IN,
 * bits 0-6: length) and, for OUT, that many bytes. Whatever a host sends,
 * the probe must neither crash nor leak, and must still answer afterwards. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/f4_model.h"
#include "bench/stlink_sim.h"
#include "bench/timing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void feed(struct stlink_sim *sim, const uint8_t *data, size_t size)
{
	uint8_t in[256];
	size_t pos = 0;
	while (pos < size) {
		uint8_t hdr = data[pos++];
		size_t len = hdr & 0x7Fu;
		size_t got;
		if (hdr & 0x80u) {
			stlink_sim_bulk_in(sim, in, len, &got);
			continue;
		}
		if (len > size - pos)
			len = size - pos;
		stlink_sim_bulk_out(sim, data + pos, len);
		pos += len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bench_clock clock = { 0 };
	struct f4_model_config mc;
	struct stlink_sim_config pc;
	struct vr_error err = { 0 };
	struct f4_model *model;
	struct stlink_sim *sim;
	const uint8_t version[16] = { 0xF1 };
	uint8_t reply[6];
	size_t got = 0;

	f4_model_config_defaults(&mc);
	mc.clock = &clock;
	bench_timing_defaults(&mc.timing);
	model = f4_model_new(&mc, &err);
	if (!model)
		abort();
	stlink_sim_config_defaults(&pc, size > 0 && (data[0] & 1) ? STLINK_SIM_PID_V3 : STLINK_SIM_PID_V2);
	sim = stlink_sim_new(&pc, model, &clock, &mc.timing, &err);
	if (!sim)
		abort();
	feed(sim, data, size);
	/* A host that lost track resets the port and asks again: it must work. */
	stlink_sim_usb_reset(sim);
	if (stlink_sim_bulk_out(sim, version, sizeof(version)) != STLINK_XFER_OK ||
	    stlink_sim_bulk_in(sim, reply, sizeof(reply), &got) != STLINK_XFER_OK || got != 6)
		abort();
	stlink_sim_free(sim);
	f4_model_free(model);
	return 0;
}
