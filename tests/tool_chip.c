/* The simulated chip seen from outside the tool, for the end-to-end tests:
 *   tool_chip init SCENARIO STATE     the scenario's chip, saved as STATE
 *   tool_chip dump STATE OUT          STATE's 1 MiB flash, raw, into OUT
 *   tool_chip optcr STATE             STATE's option word, as 0x%08X
 *   tool_chip fill STATE OFFSET LEN   a pattern (a stand-in for a motor
 *                                     configuration) into STATE's flash
 *   tool_chip expect OUT FW BL        the flash a recovery must leave: all
 *                                     0xFF, FW at 0x08000000, BL at
 *                                     0x080E0000, crcinfo as the first boot
 *                                     stores it ("-" for an absent file)
 * The expected image is computed from the input files with our own CRC
 * (vesc-protocol-and-flash.md §4.2), not from the tool's code, so a test
 * comparing it with the flash checks the tool instead of repeating it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/f4_model.h"
#include "bench/facade/facade_chip.h"
#include "bench/scenario.h"

#define FLASH_SIZE (1024u * 1024u)
#define BL_OFFSET 0xE0000u
#define OPTCR_ADDR 0x40023C14u

static int fail(const char *what, const struct vr_error *err)
{
	fprintf(stderr, "tool_chip: %s: %s\n", what, err ? err->msg : "failed");
	return 1;
}

/* Opens STATE (or the bare scenario when STATE does not exist yet). */
static int open_chip(const char *scenario, const char *state, struct facade_chip *chip)
{
	struct bench_scenario sc;
	struct vr_error err;
	if (bench_scenario_parse(scenario, &sc, &err) || facade_chip_open(chip, &sc, state, &err))
		return fail(scenario, &err);
	return 0;
}

static int cmd_init(const char *scenario, const char *state)
{
	struct facade_chip chip;
	struct vr_error err;
	remove(state);
	if (open_chip(scenario, state, &chip))
		return 1;
	int rc = facade_chip_save(&chip, true, &err) ? fail(state, &err) : 0;
	facade_chip_close(&chip);
	return rc;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

static int cmd_dump(const char *state, const char *out)
{
	struct facade_chip chip;
	if (open_chip("healthy", state, &chip))
		return 1;
	/* The backdoor: the silicon's bytes, whatever the protection says. */
	int rc = write_file(out, f4_model_flash(chip.model), FLASH_SIZE);
	chip.state_path[0] = '\0';  /* looking must not rewrite the state */
	facade_chip_close(&chip);
	return rc;
}

/* What a configuration looks like to the tool: bytes that are neither the
 * image's 0x00 nor erased 0xFF. */
static int cmd_fill(const char *state, const char *offset_text, const char *len_text)
{
	unsigned long offset = strtoul(offset_text, NULL, 0), len = strtoul(len_text, NULL, 0);
	if (offset > FLASH_SIZE || len > FLASH_SIZE - offset)
		return fail("fill: range outside the flash", NULL);
	struct facade_chip chip;
	struct vr_error err;
	if (open_chip("healthy", state, &chip))
		return 1;
	uint8_t *flash = f4_model_flash(chip.model);
	for (unsigned long i = 0; i < len; i++)
		flash[offset + i] = (uint8_t)(0x5A ^ (i * 7));
	int rc = facade_chip_save(&chip, true, &err) ? fail(state, &err) : 0;
	facade_chip_close(&chip);
	return rc;
}

static int cmd_optcr(const char *state)
{
	struct facade_chip chip;
	if (open_chip("healthy", state, &chip))
		return 1;
	printf("0x%08X\n", (unsigned)f4_model_optcr(chip.model));
	chip.state_path[0] = '\0';
	facade_chip_close(&chip);
	return 0;
}

/* STM32 CRC unit: poly 0x04C11DB7, init 0xFFFFFFFF, 32-bit little-endian
 * words fed MSB first, no reflection, no final XOR. */
static uint32_t stm32_crc(uint32_t crc, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 4 <= len; i += 4) {
		crc ^= (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
		       (uint32_t)p[i + 3] << 24;
		for (int b = 0; b < 32; b++)
			crc = crc & 0x80000000u ? (crc << 1) ^ 0x04C11DB7u : crc << 1;
	}
	return crc;
}

static long read_into(const char *path, uint8_t *dst, size_t cap)
{
	if (strcmp(path, "-") == 0)
		return 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return -1;
	}
	size_t n = fread(dst, 1, cap, f);
	int extra = fgetc(f);
	fclose(f);
	if (extra != EOF) {
		fprintf(stderr, "tool_chip: %s does not fit\n", path);
		return -1;
	}
	return (long)n;
}

/* The first boot of a 6.x image (ends at 0x0807FFF8) or a 5.x one
 * (0x0805FFF8): flag 0, then the CRC of sector 0 and 0x0800C000 up to
 * the flag, which makes the residue over "... flag crc" zero. */
static void first_boot(uint8_t *flash, long fw_len)
{
	uint32_t info = fw_len == 0x7FFF8 ? 0x7FFF0u : fw_len == 0x5FFF8 ? 0x5FFF0u : 0;
	if (!info)
		return;
	memset(flash + info, 0, 4);
	uint32_t crc = stm32_crc(0xFFFFFFFFu, flash, 0x4000);
	crc = stm32_crc(crc, flash + 0xC000, info + 4 - 0xC000);
	for (int i = 0; i < 4; i++)
		flash[info + 4 + i] = (uint8_t)(crc >> (8 * i));
}

static int cmd_expect(const char *out, const char *fw, const char *bl)
{
	static uint8_t flash[FLASH_SIZE];
	memset(flash, 0xFF, sizeof flash);
	long fw_len = read_into(fw, flash, BL_OFFSET);
	long bl_len = read_into(bl, flash + BL_OFFSET, FLASH_SIZE - BL_OFFSET);
	if (fw_len < 0 || bl_len < 0)
		return 1;
	first_boot(flash, fw_len);
	return write_file(out, flash, sizeof flash);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "init") == 0)
		return cmd_init(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "dump") == 0)
		return cmd_dump(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "optcr") == 0)
		return cmd_optcr(argv[2]);
	if (argc == 5 && strcmp(argv[1], "fill") == 0)
		return cmd_fill(argv[2], argv[3], argv[4]);
	if (argc == 5 && strcmp(argv[1], "expect") == 0)
		return cmd_expect(argv[2], argv[3], argv[4]);
	fprintf(stderr, "usage: tool_chip init SCENARIO STATE | dump STATE OUT | optcr STATE | "
		"fill STATE OFFSET LEN | expect OUT FW|- BL|-\n");
	return 2;
}
