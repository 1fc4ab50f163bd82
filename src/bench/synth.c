#include "bench/synth.h"

#include <stdio.h>
#include <string.h>

#include "crc.h"

#define APP_BASE 0x08000000u
#define BL_BASE 0x080E0000u
#define N_VECTORS 98u                 /* 16 core + 82 STM32F405 interrupts */
#define VECTOR_BYTES (N_VECTORS * 4u)
#define SECTOR0_END 0x4000u
#define CONFIG_END 0xC000u
#define MARKER_OFF 0x190u
#define MARKER_LEN 48u
#define FW6_CRCINFO_OFF 0x7FFF0u
#define FW5_CRCINFO_OFF 0x5FFF0u
#define BL_SP 0x20000800u

/* xorshift32: tiny, deterministic, and good enough to look like code. */
struct prng {
	uint32_t state;
};

static void prng_seed(struct prng *r, uint32_t seed)
{
	r->state = seed ^ 0x9E3779B9u;
	if (r->state == 0)
		r->state = 0x6D2B79F5u;
}

static uint32_t prng_next(struct prng *r)
{
	uint32_t x = r->state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	r->state = x;
	return x;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Random bytes with the occasional run of 0xFF (alignment padding, unused
 * tables) and 0x00 (zeroed data), as a linker's output has. */
static void fill_code(uint8_t *p, size_t len, struct prng *r)
{
	size_t i = 0;
	while (i < len) {
		uint32_t pick = prng_next(r);
		size_t run = 0;
		uint8_t run_byte = 0;
		/* About 3 % of the bytes end up in 0xFF runs, 0.1 % in zero runs. */
		if ((pick & 0xFFFu) == 0) {
			run = 16 + (pick >> 12) % 1024;
			run_byte = 0xFF;
		} else if ((pick & 0xFFFu) == 1) {
			run = 8 + (pick >> 12) % 128;
			run_byte = 0x00;
		}
		if (run) {
			if (run > len - i)
				run = len - i;
			memset(p + i, run_byte, run);
			i += run;
			continue;
		}
		uint32_t word = prng_next(r);
		for (int b = 0; b < 4 && i < len; b++, i++)
			p[i] = (uint8_t)(word >> (8 * b));
	}
}

/* Handlers: odd addresses inside the image's own code. */
static void write_vectors(uint8_t *img, uint32_t sp, uint32_t reset,
			  uint32_t code_lo, uint32_t code_hi, struct prng *r)
{
	put_le32(img, sp);
	put_le32(img + 4, reset);
	uint32_t default_handler = (code_lo + 0x40u) | 1u;
	for (unsigned i = 2; i < N_VECTORS; i++) {
		uint32_t pick = prng_next(r);
		uint32_t handler = default_handler;
		if ((pick & 3u) == 0 && code_hi > code_lo + 8)
			handler = (code_lo + (pick >> 2) % (code_hi - code_lo - 8)) | 1u;
		/* Reserved core slots (7-10, 13) stay 0 as in a real table. */
		bool reserved = (i >= 7 && i <= 10) || i == 13;
		put_le32(img + 4 * i, reserved ? 0 : handler);
	}
}

size_t synth_firmware_size(int major)
{
	return major >= 6 ? SYNTH_FW6_SIZE : SYNTH_FW5_SIZE;
}

static void write_marker(uint8_t *img, int major, int minor, uint32_t seed)
{
	char text[MARKER_LEN];
	memset(text, 0, sizeof text);
	snprintf(text, sizeof text, "VR-SYNTH-FW %d.%02d seed %08x", major, minor, (unsigned)seed);
	memcpy(img + MARKER_OFF, text, sizeof text);
}

size_t synth_firmware(uint8_t *buf, size_t cap, int major, int minor, uint32_t seed)
{
	size_t size = synth_firmware_size(major);
	if (buf == NULL || cap < size)
		return 0;
	bool gen6 = major >= 6;
	struct prng r;
	prng_seed(&r, seed * 2654435761u + (uint32_t)(major * 100 + minor));
	memset(buf, 0xFF, size);

	/* 6.x code reaches past 5.x's 384 KB limit, which is why it needed
	 * the larger one; 5.x code stays well inside its own. */
	uint32_t code_end = gen6 ? 0x68000u + (prng_next(&r) % 0x8000u) : 0x50000u + (prng_next(&r) % 0x8000u);
	code_end &= ~3u;
	uint32_t sector0_code_end = 0x3800u + (prng_next(&r) % 0x600u);
	uint32_t reset = (APP_BASE + MARKER_OFF + MARKER_LEN + 0x40u) | 1u;

	fill_code(buf + VECTOR_BYTES, sector0_code_end - VECTOR_BYTES, &r);
	write_vectors(buf, SYNTH_FW_SP, reset, APP_BASE + CONFIG_END, APP_BASE + code_end, &r);
	write_marker(buf, major, minor, seed);
	memset(buf + SECTOR0_END, gen6 ? 0x00 : 0xFF, CONFIG_END - SECTOR0_END);
	fill_code(buf + CONFIG_END, code_end - CONFIG_END, &r);
	/* The image's last code word is never blank, so its extent is exact. */
	put_le32(buf + code_end - 4, 0x4770BF00u);
	return size;
}

bool synth_mark_booted(uint8_t *app, size_t len, int gen)
{
	size_t flag_off = gen == 5 ? FW5_CRCINFO_OFF : FW6_CRCINFO_OFF;
	if (app == NULL || (gen != 5 && gen != 6) || len < flag_off + 8)
		return false;
	put_le32(app + flag_off, 0);
	uint32_t crc = crc32_stm32_update(CRC32_STM32_INIT, app, SECTOR0_END);
	crc = crc32_stm32_update(crc, app + CONFIG_END, flag_off + 4 - CONFIG_END);
	put_le32(app + flag_off + 4, crc);
	return true;
}

bool synth_firmware_version(const uint8_t *app, size_t len, int *major, int *minor)
{
	if (app == NULL || len < MARKER_OFF + MARKER_LEN)
		return false;
	char text[MARKER_LEN + 1];
	memcpy(text, app + MARKER_OFF, MARKER_LEN);
	text[MARKER_LEN] = '\0';
	int ma = 0, mi = 0;
	unsigned seed = 0;
	if (sscanf(text, "VR-SYNTH-FW %d.%d seed %x", &ma, &mi, &seed) != 3)
		return false;
	if (ma < 0 || ma > 99 || mi < 0 || mi > 99)
		return false;
	*major = ma;
	*minor = mi;
	return true;
}

static uint32_t bootloader_reset(enum bl_kind kind)
{
	switch (kind) {
	case BL_KIND_GENERIC: return 0x080E04F1u;
	case BL_KIND_HW40:
	case BL_KIND_HW60: return 0x080E0551u;
	case BL_KIND_OLD: return 0x080E02C1u;
	case BL_KIND_UNKNOWN: break;
	}
	return 0;
}

size_t synth_bootloader_size(enum bl_kind kind)
{
	switch (kind) {
	case BL_KIND_GENERIC: return 5280;
	case BL_KIND_HW40:
	case BL_KIND_HW60: return 5776;
	case BL_KIND_OLD: return 3792;
	case BL_KIND_UNKNOWN: break;
	}
	return 0;
}

size_t synth_bootloader(uint8_t *buf, size_t cap, enum bl_kind kind)
{
	size_t size = synth_bootloader_size(kind);
	if (buf == NULL || size == 0 || cap < size)
		return 0;
	struct prng r;
	prng_seed(&r, 0xB007u + (uint32_t)kind);
	fill_code(buf + VECTOR_BYTES, size - VECTOR_BYTES, &r);
	write_vectors(buf, BL_SP, bootloader_reset(kind), BL_BASE + VECTOR_BYTES,
		      BL_BASE + (uint32_t)size, &r);
	put_le32(buf + size - 4, 0x4770BF00u);
	return size;
}
