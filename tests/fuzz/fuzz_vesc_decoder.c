/* libFuzzer: the host frame decoder on arbitrary bytes, fed in arbitrary
 * chunk sizes. Whatever comes in, it must not read or write out of
 * bounds, every frame it delivers must be one the encoder would produce
 * (CRC-valid, within the host limit), and its counts must add up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "vesc_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_frame(const uint8_t *payload, size_t len)
{
	static uint8_t frame[VESC_HOST_MAX_PAYLOAD + VESC_FRAME_OVERHEAD];
	size_t n = 0;
	if (len == 0 || len > VESC_HOST_MAX_PAYLOAD)
		abort();
	if (vesc_encode(payload, len, frame, sizeof frame, &n, NULL) != VR_OK)
		abort();
	/* a fresh decoder finds exactly this payload in the re-encoded frame */
	static struct vesc_decoder again;
	vesc_decoder_init(&again);
	if (vesc_decoder_feed(&again, frame, n) != n)
		abort();
	const uint8_t *pl;
	size_t pl_len;
	if (!vesc_decoder_next(&again, &pl, &pl_len) || pl_len != len || memcmp(pl, payload, len))
		abort();
}

static void drain(struct vesc_decoder *d, unsigned long *framed)
{
	const uint8_t *pl;
	size_t len;
	while (vesc_decoder_next(d, &pl, &len)) {
		check_frame(pl, len);
		*framed += len + 5;   /* at least header 2 + CRC 2 + end 1 */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vesc_decoder d;
	vesc_decoder_init(&d);
	if (size == 0)
		return 0;
	/* the first byte picks the chunk size: byte-by-byte to large bursts */
	size_t step = (size_t)data[0] % 64 + 1;
	bool finish_midway = data[0] & 0x80;
	data++;
	size--;
	unsigned long framed = 0;
	for (size_t off = 0; off < size;) {
		size_t chunk = size - off < step ? size - off : step;
		off += vesc_decoder_feed(&d, data + off, chunk);
		drain(&d, &framed);
		if (finish_midway && off % 97 == 0) {
			vesc_decoder_finish(&d);
			drain(&d, &framed);
		}
	}
	vesc_decoder_finish(&d);
	drain(&d, &framed);
	if (vesc_decoder_pending(&d) != 0)
		abort();
	if (d.stats.bytes != size)
		abort();
	unsigned long accounted = d.stats.noise_bytes + framed + d.stats.bug_frames * 261ul;
	if (accounted > size || d.stats.printable_noise > d.stats.noise_bytes)
		abort();
	return 0;
}
