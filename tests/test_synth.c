/* The synthetic images have the shapes the reference describes (§4.2,
 * §4.7), are deterministic, and a "booted" one passes the firmware's own
 * CRC check computed here independently with crc32_stm32. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench/synth.h"
#include "crc.h"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t *make_fw(int major, int minor, uint32_t seed, size_t *size)
{
	uint8_t *buf = malloc(512 * 1024);
	assert_non_null(buf);
	*size = synth_firmware(buf, 512 * 1024, major, minor, seed);
	return buf;
}

static int all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

static void fw6_shape(void **state)
{
	(void)state;
	size_t size;
	uint8_t *fw = make_fw(6, 5, 1, &size);
	assert_int_equal(size, 524280);
	uint32_t sp = le32(fw), reset = le32(fw + 4);
	assert_int_equal(sp & 0xFFFF0000u, 0x20010000u);
	assert_true(reset & 1u);
	assert_true(reset >= 0x08000000u && reset < 0x08080000u);
	assert_true(all_bytes(fw + 0x4000, 0x8000, 0x00));        /* config window zeroed */
	assert_true(all_bytes(fw + size - 8, 8, 0xFF));           /* crcinfo never booted */
	assert_true(le32(fw + 0x5FFF0) != 0 || le32(fw + 0x5FFF4) != 0);
	/* content reaches past the 5.x limit, as a 6.x image does */
	size_t last = size - 9;
	while (fw[last] == 0xFF)
		last--;
	assert_true(last > 0x60000);
	/* realistic 0xFF gaps: some erased words inside the code, not most */
	size_t ff_words = 0;
	for (size_t off = 0xC000; off < 0x60000; off += 4)
		ff_words += le32(fw + off) == 0xFFFFFFFFu;
	assert_true(ff_words > 200);
	assert_true(ff_words < (0x60000 - 0xC000) / 4 / 4);
	free(fw);
}

static void fw5_shape(void **state)
{
	(void)state;
	size_t size;
	uint8_t *fw = make_fw(5, 3, 7, &size);
	assert_int_equal(size, 393208);
	assert_true(all_bytes(fw + 0x4000, 0x8000, 0xFF));
	assert_true(all_bytes(fw + size - 8, 8, 0xFF));
	assert_int_equal(synth_firmware_size(5), 393208);
	assert_int_equal(synth_firmware_size(2), 393208);
	assert_int_equal(synth_firmware_size(7), 524280);
	free(fw);
}

static void deterministic_and_seeded(void **state)
{
	(void)state;
	size_t s1, s2, s3;
	uint8_t *a = make_fw(6, 5, 42, &s1);
	uint8_t *b = make_fw(6, 5, 42, &s2);
	uint8_t *c = make_fw(6, 5, 43, &s3);
	assert_int_equal(s1, s2);
	assert_memory_equal(a, b, s1);
	assert_memory_not_equal(a, c, s1);
	free(a);
	free(b);
	free(c);
}

static void too_small_buffer(void **state)
{
	(void)state;
	uint8_t small[1024];
	assert_int_equal(synth_firmware(small, sizeof small, 6, 0, 1), 0);
	assert_int_equal(synth_firmware(NULL, 1u << 20, 6, 0, 1), 0);
	assert_int_equal(synth_bootloader(small, sizeof small, BL_KIND_GENERIC), 0);
	assert_int_equal(synth_bootloader(small, sizeof small, BL_KIND_UNKNOWN), 0);
}

static uint32_t residue(const uint8_t *app, size_t crcinfo_off)
{
	uint32_t crc = crc32_stm32_update(CRC32_STM32_INIT, app, 0x4000);
	return crc32_stm32_update(crc, app + 0xC000, crcinfo_off + 8 - 0xC000);
}

static void mark_booted_gives_zero_residue(void **state)
{
	(void)state;
	size_t size;
	uint8_t *fw = make_fw(6, 6, 3, &size);
	assert_true(synth_mark_booted(fw, size, 6));
	assert_int_equal(le32(fw + 0x7FFF0), 0);
	assert_int_not_equal(le32(fw + 0x7FFF4), 0xFFFFFFFFu);
	assert_int_equal(residue(fw, 0x7FFF0), 0);
	fw[0x20000] ^= 0x01;
	assert_int_not_equal(residue(fw, 0x7FFF0), 0);
	free(fw);

	fw = make_fw(5, 3, 3, &size);
	assert_true(synth_mark_booted(fw, size, 5));
	assert_int_equal(le32(fw + 0x5FFF0), 0);
	assert_int_equal(residue(fw, 0x5FFF0), 0);
	/* the configuration window is not covered by the check */
	fw[0x5000] = 0x12;
	assert_int_equal(residue(fw, 0x5FFF0), 0);
	/* too short for the crcinfo, or a wrong generation: refused */
	assert_false(synth_mark_booted(fw, size, 6));
	assert_false(synth_mark_booted(fw, size, 4));
	free(fw);
}

static void version_marker(void **state)
{
	(void)state;
	size_t size;
	uint8_t *fw = make_fw(6, 5, 9, &size);
	int major = 0, minor = 0;
	assert_true(synth_firmware_version(fw, size, &major, &minor));
	assert_int_equal(major, 6);
	assert_int_equal(minor, 5);
	memset(fw, 0xFF, 0x400);
	assert_false(synth_firmware_version(fw, size, &major, &minor));
	free(fw);
	fw = make_fw(2, 18, 9, &size);
	assert_true(synth_firmware_version(fw, size, &major, &minor));
	assert_int_equal(major, 2);
	assert_int_equal(minor, 18);
	free(fw);
}

static void bootloader_shapes(void **state)
{
	(void)state;
	static const struct {
		enum bl_kind kind;
		size_t size;
		uint32_t word1;
	} cases[] = {
		{BL_KIND_GENERIC, 5280, 0x080E04F1u},
		{BL_KIND_HW40, 5776, 0x080E0551u},
		{BL_KIND_HW60, 5776, 0x080E0551u},
		{BL_KIND_OLD, 3792, 0x080E02C1u},
	};
	uint8_t buf[8192];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(buf, 0xFF, sizeof buf);
		size_t n = synth_bootloader(buf, sizeof buf, cases[i].kind);
		assert_int_equal(n, cases[i].size);
		assert_int_equal(synth_bootloader_size(cases[i].kind), cases[i].size);
		assert_int_equal(le32(buf), 0x20000800u);
		assert_int_equal(le32(buf + 4), cases[i].word1);
		assert_int_not_equal(buf[n - 1], 0xFF);
		assert_int_equal(buf[n], 0xFF);
	}
	uint8_t hw40[8192], hw60[8192];
	synth_bootloader(hw40, sizeof hw40, BL_KIND_HW40);
	synth_bootloader(hw60, sizeof hw60, BL_KIND_HW60);
	assert_memory_not_equal(hw40, hw60, 5776);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fw6_shape),
		cmocka_unit_test(fw5_shape),
		cmocka_unit_test(deterministic_and_seeded),
		cmocka_unit_test(too_small_buffer),
		cmocka_unit_test(mark_booted_gives_zero_residue),
		cmocka_unit_test(version_marker),
		cmocka_unit_test(bootloader_shapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
