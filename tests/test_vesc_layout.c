/* The VESC layout classifiers: sector map, vector-table roles, placement
 * refusals (each message checked), the app check on synthetic images
 * (never booted, booted, one flipped byte), staging headers, bootloaders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bench/synth.h"
#include "crc.h"
#include "sha256.h"
#include "images/vesc_layout.h"

#define REGION (512u * 1024u)

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* A 512 KB app region (erased) holding a synthetic firmware. */
static uint8_t *region_with_fw(int major, uint32_t seed, size_t *size)
{
	uint8_t *r = malloc(REGION);
	assert_non_null(r);
	memset(r, 0xFF, REGION);
	*size = synth_firmware(r, REGION, major, 5, seed);
	assert_int_not_equal(*size, 0);
	return r;
}

static void sector_map(void **state)
{
	(void)state;
	assert_int_equal(vesc_sector_of(0x08000000u), 0);
	assert_int_equal(vesc_sector_of(0x08003FFFu), 0);
	assert_int_equal(vesc_sector_of(0x08004000u), 1);
	assert_int_equal(vesc_sector_of(0x0800C000u), 3);
	assert_int_equal(vesc_sector_of(0x08010000u), 4);
	assert_int_equal(vesc_sector_of(0x08020000u), 5);
	assert_int_equal(vesc_sector_of(0x08080000u), 8);
	assert_int_equal(vesc_sector_of(0x080E0000u), 11);
	assert_int_equal(vesc_sector_of(0x080FFFFFu), 11);
	assert_int_equal(vesc_sector_of(0x08100000u), -1);
	assert_int_equal(vesc_sector_of(0x07FFFFFFu), -1);
	assert_int_equal(vesc_sector_base(11), 0x080E0000u);
	assert_int_equal(vesc_sector_size(4), 64 * 1024);
	assert_int_equal(vesc_sector_size(12), 0);
	assert_int_equal(vesc_sector_base(12), 0);
}

static void stack_pointer_bounds(void **state)
{
	(void)state;
	assert_true(vesc_sp_valid(0x20000000u));   /* the shared rule's range is inclusive */
	assert_false(vesc_sp_valid(0x1FFFFFFCu));
	assert_true(vesc_sp_valid(0x20000800u));
	assert_true(vesc_sp_valid(0x2001FF00u));
	assert_true(vesc_sp_valid(0x20020000u));   /* the top is a legal initial SP */
	assert_false(vesc_sp_valid(0x20020004u));
	assert_true(vesc_sp_valid(0x10010000u));
	assert_true(vesc_sp_valid(0x10000000u));
	assert_false(vesc_sp_valid(0x0FFFFFFCu));
	assert_false(vesc_sp_valid(0x10010004u));
	assert_false(vesc_sp_valid(0xFFFFFFFFu));
	assert_false(vesc_sp_valid(0x08000000u));
}

static void roles_from_vectors(void **state)
{
	(void)state;
	assert_int_equal(vesc_role_of_vector(0x20020000u, 0x08000189u), VESC_ROLE_FIRMWARE);
	assert_int_equal(vesc_role_of_vector(0x1000FF00u, 0x0807FFFFu), VESC_ROLE_FIRMWARE);
	assert_int_equal(vesc_role_of_vector(0x20000800u, 0x080E04F1u), VESC_ROLE_BOOTLOADER);
	assert_int_equal(vesc_role_of_vector(0x20000800u, 0x080E04F0u), VESC_ROLE_UNKNOWN); /* even */
	assert_int_equal(vesc_role_of_vector(0x20000800u, 0x08080001u), VESC_ROLE_UNKNOWN); /* staging */
	assert_int_equal(vesc_role_of_vector(0x30000000u, 0x08000189u), VESC_ROLE_UNKNOWN);
	assert_int_equal(vesc_role_of_vector(0xFFFFFFFFu, 0xFFFFFFFFu), VESC_ROLE_BLANK);
	assert_int_equal(vesc_role_address(VESC_ROLE_BOOTLOADER), 0x080E0000u);
	assert_int_equal(vesc_role_address(VESC_ROLE_FIRMWARE), 0x08000000u);
	assert_string_equal(vesc_role_name(VESC_ROLE_BOOTLOADER), "bootloader");
	struct vesc_vector v;
	uint8_t short_buf[4] = {0};
	vesc_vector_read(short_buf, sizeof short_buf, &v);
	assert_int_equal(v.role, VESC_ROLE_UNKNOWN);
}

static vr_err place(const uint8_t *head, uint32_t addr, uint32_t size, enum vesc_role wanted,
		    struct vesc_placement_result *res, struct vr_error *err)
{
	struct vesc_placement p = {.addr = addr, .size = size, .head = head, .head_len = 64};
	vr_error_clear(err);
	return vesc_check_placement(&p, wanted, res, err);
}

static void placement_accepts_the_right_things(void **state)
{
	(void)state;
	size_t size;
	uint8_t *fw = region_with_fw(6, 1, &size);
	struct vesc_placement_result res;
	struct vr_error err;
	assert_int_equal(place(fw, 0x08000000u, (uint32_t)size, VESC_ROLE_FIRMWARE, &res, &err), VR_OK);
	assert_int_equal(res.role, VESC_ROLE_FIRMWARE);
	assert_int_equal(res.fw_gen, 6);
	assert_int_equal(place(fw, 0x08000000u, 393208, VESC_ROLE_UNKNOWN, &res, &err), VR_OK);
	assert_int_equal(res.fw_gen, 5);
	uint8_t bl[8192];
	uint32_t bl_size = (uint32_t)synth_bootloader(bl, sizeof bl, BL_KIND_GENERIC);
	assert_int_equal(place(bl, 0x080E0000u, bl_size, VESC_ROLE_BOOTLOADER, &res, &err), VR_OK);
	assert_int_equal(res.role, VESC_ROLE_BOOTLOADER);
	assert_int_equal(place(bl, 0x080E0000u, 128 * 1024, VESC_ROLE_UNKNOWN, &res, &err), VR_OK);
	free(fw);
}

static void expect_refusal(const uint8_t *head, uint32_t addr, uint32_t size, enum vesc_role wanted,
			   const char *needle)
{
	struct vr_error err;
	struct vesc_placement_result res;
	assert_int_equal(place(head, addr, size, wanted, &res, &err), VR_ERR_INPUT);
	assert_int_equal(err.code, VR_ERR_INPUT);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
}

static void placement_refusals(void **state)
{
	(void)state;
	size_t size;
	uint8_t *fw = region_with_fw(6, 2, &size);
	uint8_t bl[8192];
	uint32_t bl_size = (uint32_t)synth_bootloader(bl, sizeof bl, BL_KIND_HW60);

	expect_refusal(bl, 0x080E0000u, bl_size, VESC_ROLE_FIRMWARE, "this is a bootloader, not a firmware");
	expect_refusal(fw, 0x08000000u, (uint32_t)size, VESC_ROLE_BOOTLOADER,
		       "this is a firmware, not a bootloader");
	expect_refusal(fw, 0x08020000u, (uint32_t)size, VESC_ROLE_FIRMWARE, "belongs at 0x08000000");
	expect_refusal(bl, 0x08000000u, bl_size, VESC_ROLE_UNKNOWN, "belongs at 0x080E0000");
	expect_refusal(fw, 0x08000000u, 0xE0004u, VESC_ROLE_FIRMWARE, "would reach sector 11");
	expect_refusal(fw, 0x08000000u, 600000u, VESC_ROLE_FIRMWARE, "524,280 B");
	expect_refusal(fw, 0x08000000u, 524281u, VESC_ROLE_FIRMWARE, "393,208 B");
	expect_refusal(bl, 0x080E0000u, 131073u, VESC_ROLE_BOOTLOADER, "larger than sector 11");
	expect_refusal(bl, 0x080F0000u, 0x20000u, VESC_ROLE_BOOTLOADER, "belongs at 0x080E0000");

	uint8_t blank[64];
	memset(blank, 0xFF, sizeof blank);
	expect_refusal(blank, 0x08000000u, 1000, VESC_ROLE_FIRMWARE, "erased bytes");
	uint8_t text[64];
	memset(text, '0', sizeof text);
	memcpy(text, ":020000040800F2\r\n:1000000000", 27);
	expect_refusal(text, 0x08000000u, 1000, VESC_ROLE_FIRMWARE, "not a VESC firmware");
	expect_refusal(text, 0x08000000u, 1000, VESC_ROLE_UNKNOWN, "not a VESC firmware or bootloader");
	/* even reset vector: named as such */
	uint8_t even[64];
	memcpy(even, fw, sizeof even);
	put_le32(even + 4, 0x08000188u);
	expect_refusal(even, 0x08000000u, 1000, VESC_ROLE_FIRMWARE, "even, not Thumb");
	expect_refusal(fw, 0x08000000u, 0, VESC_ROLE_FIRMWARE, "no bytes");
	free(fw);
}

static void app_never_booted_then_booted(void **state)
{
	(void)state;
	size_t size;
	uint8_t *r = region_with_fw(6, 3, &size);
	struct app_obs app;
	vesc_check_app(r, REGION, &app);
	assert_true(app.vector_valid);
	assert_int_equal(app.sp, SYNTH_FW_SP);
	assert_int_equal(app.fw_gen, 6);
	assert_int_equal(app.crcinfo, CRCINFO_NEVER_BOOTED);
	assert_false(app.crc_checked);
	assert_true(app.image_end > 0x08060000u && app.image_end <= 0x0807FFF0u);

	/* a zero word of 6.x code where 5.x keeps its flag changes nothing */
	uint8_t saved[8];
	memcpy(saved, r + 0x5FFF0, 8);
	memset(r + 0x5FFF0, 0, 8);
	vesc_check_app(r, REGION, &app);
	assert_int_equal(app.crcinfo, CRCINFO_NEVER_BOOTED);
	assert_int_equal(app.fw_gen, 6);
	memcpy(r + 0x5FFF0, saved, 8);

	assert_true(synth_mark_booted(r, REGION, 6));
	vesc_check_app(r, REGION, &app);
	assert_int_equal(app.crcinfo, CRCINFO_BOOTED);
	assert_int_equal(app.fw_gen, 6);
	assert_true(app.crc_checked);
	assert_true(app.crc_ok);
	assert_int_equal(app.image_end, 0x0807FFF8u);
	char text[200];
	vesc_describe_app(&app, text, sizeof text);
	assert_non_null(strstr(text, "CRC ok"));

	uint32_t crc = 0;
	assert_true(vesc_app_crc(r, REGION, 6, &crc));
	assert_int_equal(crc, (uint32_t)r[0x7FFF4] | (uint32_t)r[0x7FFF5] << 8 |
			 (uint32_t)r[0x7FFF6] << 16 | (uint32_t)r[0x7FFF7] << 24);

	/* the configuration window is outside the check */
	r[0x6000] ^= 0x5A;
	vesc_check_app(r, REGION, &app);
	assert_true(app.crc_ok);
	/* one flipped bit anywhere else fails it */
	r[0x30001] ^= 0x01;
	vesc_check_app(r, REGION, &app);
	assert_int_equal(app.crcinfo, CRCINFO_BOOTED);
	assert_true(app.crc_checked);
	assert_false(app.crc_ok);
	vesc_describe_app(&app, text, sizeof text);
	assert_non_null(strstr(text, "FAILS"));
	r[0x30001] ^= 0x01;
	/* and so does a flipped bit in sector 0 */
	r[0x1000] ^= 0x80;
	vesc_check_app(r, REGION, &app);
	assert_false(app.crc_ok);
	free(r);
}

static void app_generation_5(void **state)
{
	(void)state;
	size_t size;
	uint8_t *r = region_with_fw(5, 4, &size);
	struct app_obs app;
	vesc_check_app(r, size, &app);   /* shorter than 512 KB: the rest is erased */
	assert_true(app.vector_valid);
	assert_int_equal(app.fw_gen, 5);
	assert_int_equal(app.crcinfo, CRCINFO_NEVER_BOOTED);
	assert_true(synth_mark_booted(r, REGION, 5));
	vesc_check_app(r, REGION, &app);
	assert_int_equal(app.fw_gen, 5);
	assert_int_equal(app.crcinfo, CRCINFO_BOOTED);
	assert_true(app.crc_ok);
	/* never booted with kept configuration in the window: still 5 */
	uint8_t *kept = region_with_fw(5, 4, &size);
	memset(kept + 0x4000, 0x5A, 0x100);
	vesc_check_app(kept, REGION, &app);
	assert_int_equal(app.fw_gen, 5);
	assert_int_equal(app.crcinfo, CRCINFO_NEVER_BOOTED);
	/* a 6.x image with kept configuration: its content past 384 KB tells */
	free(kept);
	kept = region_with_fw(6, 4, &size);
	memset(kept + 0x4000, 0x5A, 0x100);
	vesc_check_app(kept, REGION, &app);
	assert_int_equal(app.fw_gen, 6);
	free(kept);
	/* 5.03 keeps QML in sector 7, over where 6.x has its crcinfo */
	for (size_t i = 0x60000; i < REGION; i++)
		r[i] = (uint8_t)(i * 31 + 7);
	vesc_check_app(r, REGION, &app);
	assert_int_equal(app.fw_gen, 5);
	assert_true(app.crc_ok);
	r[0x20000] ^= 0x10;
	vesc_check_app(r, REGION, &app);
	assert_int_equal(app.fw_gen, 5);
	assert_int_equal(app.crcinfo, CRCINFO_BOOTED);
	assert_false(app.crc_ok);
	/* without the QML a corrupt 5.x is still judged 5.x, booted, bad CRC */
	memset(r + 0x60000, 0xFF, REGION - 0x60000);
	vesc_check_app(r, REGION, &app);
	assert_int_equal(app.fw_gen, 5);
	assert_int_equal(app.crcinfo, CRCINFO_BOOTED);
	assert_true(app.crc_checked);
	assert_false(app.crc_ok);
	free(r);
}

static void app_blank_and_garbage(void **state)
{
	(void)state;
	uint8_t *r = malloc(REGION);
	assert_non_null(r);
	memset(r, 0xFF, REGION);
	struct app_obs app;
	vesc_check_app(r, REGION, &app);
	assert_int_equal(app.image_end, 0);
	assert_false(app.vector_valid);
	assert_int_equal(app.crcinfo, CRCINFO_UNKNOWN);
	char text[200];
	vesc_describe_app(&app, text, sizeof text);
	assert_non_null(strstr(text, "blank"));

	size_t size;
	free(r);
	r = region_with_fw(6, 5, &size);
	put_le32(r + 0x7FFF0, 0x12345678u);  /* neither erased nor 0 */
	vesc_check_app(r, REGION, &app);
	assert_int_equal(app.crcinfo, CRCINFO_GARBAGE);
	/* vector destroyed: not a valid firmware any more */
	memset(r, 0, 8);
	vesc_check_app(r, REGION, &app);
	assert_false(app.vector_valid);
	vesc_check_app(NULL, 0, &app);
	assert_int_equal(app.image_end, 0);
	free(r);
}

static void config_window(void **state)
{
	(void)state;
	size_t size;
	uint8_t *r = region_with_fw(6, 6, &size);
	assert_int_equal(vesc_config_window(r, REGION), VESC_CONFIG_ALL_00);
	memset(r + 0x4000, 0xFF, 0x8000);
	assert_int_equal(vesc_config_window(r, REGION), VESC_CONFIG_ALL_FF);
	r[0xBFFF] = 0x11;
	assert_int_equal(vesc_config_window(r, REGION), VESC_CONFIG_DATA);
	assert_int_equal(vesc_config_window(r, 0xBFFF), VESC_CONFIG_NOT_COVERED);
	free(r);
	r = region_with_fw(5, 6, &size);
	assert_int_equal(vesc_config_window(r, size), VESC_CONFIG_ALL_FF);
	free(r);
}

static size_t make_staging(uint8_t *buf, size_t cap, uint32_t size_field, size_t data_len)
{
	memset(buf, 0xFF, cap);
	for (size_t i = 0; i < data_len; i++)
		buf[6 + i] = (uint8_t)(i ^ (i >> 8));
	uint16_t crc = crc16_xmodem(buf + 6, data_len);
	buf[0] = (uint8_t)(size_field >> 24);
	buf[1] = (uint8_t)(size_field >> 16);
	buf[2] = (uint8_t)(size_field >> 8);
	buf[3] = (uint8_t)size_field;
	buf[4] = (uint8_t)(crc >> 8);
	buf[5] = (uint8_t)crc;
	return 6 + data_len;
}

static void staging_header(void **state)
{
	(void)state;
	static uint8_t st[8192];
	struct staging_obs obs;
	make_staging(st, sizeof st, 4000, 4000);
	vesc_check_staging(st, sizeof st, &obs);
	assert_true(obs.pending);
	assert_false(obs.compressed);
	assert_int_equal(obs.size, 4000);
	assert_true(obs.crc_ok);

	make_staging(st, sizeof st, 0xCC000000u | 3000u, 3000);
	vesc_check_staging(st, sizeof st, &obs);
	assert_true(obs.pending);
	assert_true(obs.compressed);
	assert_int_equal(obs.size, 3000);
	assert_true(obs.crc_ok);

	make_staging(st, sizeof st, 4000, 4000);
	st[100] ^= 1;
	vesc_check_staging(st, sizeof st, &obs);
	assert_true(obs.pending);
	assert_false(obs.crc_ok);

	memset(st, 0xFF, sizeof st);    /* erased: nothing staged */
	vesc_check_staging(st, sizeof st, &obs);
	assert_false(obs.pending);
	make_staging(st, sizeof st, 0, 0);
	vesc_check_staging(st, sizeof st, &obs);
	assert_false(obs.pending);
	make_staging(st, sizeof st, 393217u, 100);   /* the bootloader refuses it */
	vesc_check_staging(st, sizeof st, &obs);
	assert_false(obs.pending);
	make_staging(st, sizeof st, 100000u, 100);   /* claims more than we hold */
	vesc_check_staging(st, sizeof st, &obs);
	assert_true(obs.pending);
	assert_false(obs.crc_ok);
	vesc_check_staging(st, 3, &obs);
	assert_false(obs.pending);
}

static void bootloader_sector(void **state)
{
	(void)state;
	static uint8_t sector[128 * 1024];
	struct bootloader_obs bl;
	char text[300];

	memset(sector, 0xFF, sizeof sector);
	vesc_check_bootloader(sector, sizeof sector, &bl);
	assert_true(bl.blank);
	assert_false(bl.present);
	vesc_describe_bootloader(&bl, text, sizeof text);
	assert_non_null(strstr(text, "blank"));

	synth_bootloader(sector, sizeof sector, BL_KIND_GENERIC);
	vesc_check_bootloader(sector, sizeof sector, &bl);
	assert_true(bl.present);
	assert_false(bl.blank);
	assert_false(bl.hash_known);
	assert_int_equal(bl.kind, BL_KIND_GENERIC);
	assert_int_equal(bl.size_guess, 5280);
	assert_int_equal(bl.sp, 0x20000800u);
	assert_int_equal(bl.reset, 0x080E04F1u);
	vesc_describe_bootloader(&bl, text, sizeof text);
	assert_non_null(strstr(text, "VESC bootloader shape, unknown build"));

	memset(sector, 0xFF, sizeof sector);
	synth_bootloader(sector, sizeof sector, BL_KIND_HW60);
	vesc_check_bootloader(sector, sizeof sector, &bl);
	assert_true(bl.present);
	assert_int_equal(bl.kind, BL_KIND_UNKNOWN);   /* HW40 and HW60 share the shape */
	vesc_describe_bootloader(&bl, text, sizeof text);
	assert_non_null(strstr(text, "VESC bootloader shape, unknown build"));

	memset(sector, 0xFF, sizeof sector);
	synth_bootloader(sector, sizeof sector, BL_KIND_OLD);
	vesc_check_bootloader(sector, sizeof sector, &bl);
	assert_int_equal(bl.kind, BL_KIND_OLD);
	assert_false(vesc_bootloader_supports_fw6(bl.kind));
	vesc_describe_bootloader(&bl, text, sizeof text);
	assert_non_null(strstr(text, "too old for FW 6.00+"));

	/* package NVM data or garbage in sector 11: present false, blank false */
	for (size_t i = 0; i < 4096; i++)
		sector[i] = (uint8_t)(i * 13);
	vesc_check_bootloader(sector, sizeof sector, &bl);
	assert_false(bl.present);
	assert_false(bl.blank);
	vesc_describe_bootloader(&bl, text, sizeof text);
	assert_non_null(strstr(text, "not a VESC bootloader"));
	assert_true(vesc_bootloader_supports_fw6(BL_KIND_GENERIC));
	assert_false(vesc_bootloader_supports_fw6(BL_KIND_UNKNOWN));
}

static void known_table_matches_reference(void **state)
{
	(void)state;
	/* Reference §4.7 rows, as text, against the compiled table. */
	static const struct {
		uint32_t size;
		const char *prefix;
		uint32_t word1;
		enum bl_kind kind;
	} rows[] = {
		{5280, "91d4e2e09594b422", 0x080E04F1u, BL_KIND_GENERIC},
		{5776, "339a9976176af14c", 0x080E0551u, BL_KIND_HW40},
		{5776, "d2c014d3b5faf843", 0x080E0551u, BL_KIND_HW60},
		{3792, "a91de2014f55f9a7", 0x080E02C1u, BL_KIND_OLD},
		{4272, "b458df386b4ad508", 0x080E0321u, BL_KIND_OLD},
		{4288, "8e96dc848a9e3c28", 0x080E0321u, BL_KIND_OLD},
	};
	size_t n = 0;
	const struct vesc_known_bootloader *table = vesc_known_bootloaders(&n);
	for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
		int found = 0;
		for (size_t i = 0; i < n; i++) {
			char hex[17];
			for (int b = 0; b < 8; b++)
				snprintf(hex + 2 * b, 3, "%02x", table[i].sha256_prefix[b]);
			if (strcmp(hex, rows[r].prefix) != 0)
				continue;
			found = 1;
			assert_int_equal(table[i].size, rows[r].size);
			assert_int_equal(table[i].word0, 0x20000800u);
			assert_int_equal(table[i].word1, rows[r].word1);
			assert_int_equal(table[i].kind, rows[r].kind);
		}
		if (!found)
			fail_msg("reference bootloader %s missing from the table", rows[r].prefix);
	}
}

static void hash_matching(void **state)
{
	(void)state;
	static uint8_t sector[128 * 1024];
	memset(sector, 0xFF, sizeof sector);
	size_t n = synth_bootloader(sector, sizeof sector, BL_KIND_GENERIC);
	uint8_t digest[SHA256_DIGEST_LEN];
	sha256(sector, n, digest);
	struct vesc_known_bootloader table[1] = {
		{"test.bin", "test", (uint32_t)n, {0}, 0x20000800u, 0x080E04F1u, BL_KIND_GENERIC},
	};
	memcpy(table[0].sha256_prefix, digest, 8);
	/* exact file, and a whole sector read back with trailing 0xFF */
	assert_ptr_equal(vesc_match_bootloader_in(table, 1, sector, n), &table[0]);
	assert_ptr_equal(vesc_match_bootloader_in(table, 1, sector, sizeof sector), &table[0]);
	/* truncated, one byte changed, or data after it: no match */
	assert_null(vesc_match_bootloader_in(table, 1, sector, n - 1));
	sector[n + 100] = 0;
	assert_null(vesc_match_bootloader_in(table, 1, sector, sizeof sector));
	sector[n + 100] = 0xFF;
	sector[1000] ^= 1;
	assert_null(vesc_match_bootloader_in(table, 1, sector, sizeof sector));
	/* the synthetic one is not a released build */
	sector[1000] ^= 1;
	assert_null(vesc_match_bootloader(sector, sizeof sector));
}

static void sector_classes(void **state)
{
	(void)state;
	size_t size;
	uint8_t *r = region_with_fw(6, 8, &size);
	struct app_obs app;
	vesc_check_app(r, REGION, &app);
	static uint8_t blank[16384];
	memset(blank, 0xFF, sizeof blank);
	assert_int_equal(vesc_classify_sector(0, r, 0x4000, &app), SECTOR_APP);
	assert_int_equal(vesc_classify_sector(1, r + 0x4000, 0x4000, &app), SECTOR_CONFIG);
	assert_int_equal(vesc_classify_sector(3, blank, sizeof blank, &app), SECTOR_BLANK);
	assert_int_equal(vesc_classify_sector(6, r + 0x40000, 0x20000, &app), SECTOR_APP);
	/* the same bytes with no valid app: data */
	assert_int_equal(vesc_classify_sector(6, r + 0x40000, 0x20000, NULL), SECTOR_DATA);
	assert_int_equal(vesc_classify_sector(9, r + 0x40000, 0x20000, &app), SECTOR_STAGING);
	uint8_t bl[8192];
	memset(bl, 0xFF, sizeof bl);
	synth_bootloader(bl, sizeof bl, BL_KIND_GENERIC);
	assert_int_equal(vesc_classify_sector(11, bl, sizeof bl, &app), SECTOR_BOOTLOADER);
	assert_int_equal(vesc_classify_sector(11, r + 0x1000, 0x1000, &app), SECTOR_DATA);
	assert_int_equal(vesc_classify_sector(12, bl, sizeof bl, &app), SECTOR_UNKNOWN);
	/* a booted 5.x app ends before sector 7: QML there is data */
	free(r);
	r = region_with_fw(5, 8, &size);
	assert_true(synth_mark_booted(r, REGION, 5));
	for (size_t i = 0x60000; i < 0x61000; i++)
		r[i] = 0x42;
	vesc_check_app(r, REGION, &app);
	assert_int_equal(app.fw_gen, 5);
	assert_int_equal(vesc_classify_sector(5, r + 0x20000, 0x20000, &app), SECTOR_APP);
	assert_int_equal(vesc_classify_sector(7, r + 0x60000, 0x20000, &app), SECTOR_DATA);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sector_map),
		cmocka_unit_test(stack_pointer_bounds),
		cmocka_unit_test(roles_from_vectors),
		cmocka_unit_test(placement_accepts_the_right_things),
		cmocka_unit_test(placement_refusals),
		cmocka_unit_test(app_never_booted_then_booted),
		cmocka_unit_test(app_generation_5),
		cmocka_unit_test(app_blank_and_garbage),
		cmocka_unit_test(config_window),
		cmocka_unit_test(staging_header),
		cmocka_unit_test(bootloader_sector),
		cmocka_unit_test(known_table_matches_reference),
		cmocka_unit_test(hash_matching),
		cmocka_unit_test(sector_classes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
