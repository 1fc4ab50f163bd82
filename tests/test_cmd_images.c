/* `vesc-rescue images`: a temporary res/ tree with synthetic firmware and
 * bootloaders, the listing, the choice for a HW name, JSON, exit codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "bench/synth.h"
#include "cli.h"
#include "cmd_images.h"

#define BL60 "60_o_75_300_o_HD60_o_UAVC_OMEGA_o_75_300_R2_o_60_MK3_o_100_250_o_75_300_R3_o_60_MK4_o_60_MK5_o_HD75.bin"

struct fixture {
	char dir[64];
	char out[65536];
	char diag[4096];
};

static void put(const char *root, const char *rel, const void *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0700);
			*p = '/';
		}
	}
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/vr-test-cmdimg-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	uint8_t *fw = malloc(SYNTH_FW6_SIZE);
	size_t n = synth_firmware(fw, SYNTH_FW6_SIZE, 6, 5, 1);
	put(f->dir, "good/firmwares/60_MK6/VESC_default.bin", fw, n);
	put(f->dir, "good/firmwares/410_o_411_o_412/VESC_default.bin", fw, n);
	n = synth_firmware(fw, SYNTH_FW6_SIZE, 5, 3, 2);
	put(f->dir, "good/firmwares/60/VESC_default.bin", fw, n);
	uint8_t bl[8192];
	n = synth_bootloader(bl, sizeof bl, BL_KIND_GENERIC);
	put(f->dir, "good/bootloaders/generic.bin", bl, n);
	n = synth_bootloader(bl, sizeof bl, BL_KIND_HW60);
	put(f->dir, "good/bootloaders/" BL60, bl, n);
	/* bad tree: a bootloader where a firmware belongs, a truncated file */
	put(f->dir, "bad/firmwares/60_MK6/VESC_default.bin", bl, n);
	n = synth_firmware(fw, SYNTH_FW6_SIZE, 6, 5, 1);
	put(f->dir, "bad/firmwares/75_300/VESC_default.bin", fw, 0);
	put(f->dir, "empty/readme.txt", "x", 1);
	free(fw);
	*state = f;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc == 0 ? 0 : -1;
}

static int run(struct fixture *f, const char *sub, const char *hw, bool json)
{
	char dir[256];
	snprintf(dir, sizeof dir, "%s/%s", f->dir, sub);
	struct cli_options opts;
	memset(&opts, 0, sizeof opts);
	opts.command = CMD_IMAGES;
	opts.file = sub ? dir : NULL;
	opts.hw_name = hw;
	opts.json = json;
	memset(f->out, 0, sizeof f->out);
	memset(f->diag, 0, sizeof f->diag);
	FILE *out = fmemopen(f->out, sizeof f->out - 1, "w");
	FILE *diag = fmemopen(f->diag, sizeof f->diag - 1, "w");
	assert_non_null(out);
	assert_non_null(diag);
	int status = cmd_images_to(&opts, out, diag);
	fclose(out);
	fclose(diag);
	return status;
}

static void expect_in(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("\"%s\" not found in:\n%s", needle, hay);
}

static void lists_and_chooses(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(run(f, "good", "60_MK6", false), 0);
	expect_in(f->out, "3 firmware file(s) in 3 group(s), 2 bootloader(s), all pass their checks");
	expect_in(f->out, "firmware (6.00+ layout), never booted");
	expect_in(f->out, "firmware (5.03-or-older layout)");
	expect_in(f->out, "VESC bootloader shape, unknown build");
	expect_in(f->out, "For HW \"60_MK6\":");
	expect_in(f->out, "60_MK6/VESC_default.bin (group 60_MK6)");
	expect_in(f->out, "bootloaders/generic.bin (no bootloader file names this HW");
	assert_string_equal(f->diag, "");

	assert_int_equal(run(f, "good", "HD60", false), 3);
	expect_in(f->out, "firmware:   none");
	/* no firmware for the HW: exit 3, but the bootloader is still named */
	assert_int_equal(run(f, "good", "75_300", false), 3);
	expect_in(f->out, BL60);
	expect_in(f->diag, "no VESC_default.bin for HW \"75_300\"");
}

static void json_output(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(run(f, "good", "411", true), 0);
	expect_in(f->out, "\"schema\": 1");
	expect_in(f->out, "\"command\": \"images\"");
	expect_in(f->out, "\"fw_gen\": 6");
	expect_in(f->out, "\"fw_gen\": 5");
	expect_in(f->out, "\"known_build\": false");
	expect_in(f->out, "410_o_411_o_412/VESC_default.bin\"");
	expect_in(f->out, "\"bootloader_generic\": true");
	expect_in(f->out, "\"exit_status\": 0");
}

static void bad_inputs(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(run(f, "bad", NULL, false), 3);
	expect_in(f->out, "this is a bootloader, not a firmware");
	expect_in(f->out, "is empty (0 bytes)");
	expect_in(f->diag, "2 image file(s) failed their checks");

	assert_int_equal(run(f, "bad", NULL, true), 3);
	expect_in(f->out, "\"role\": \"bootloader\"");
	expect_in(f->out, "\"ok\": false");
	expect_in(f->out, "\"exit_status\": 3");

	assert_int_equal(run(f, "empty", NULL, false), 3);
	expect_in(f->diag, "no firmware or bootloader .bin files");
	assert_int_equal(run(f, "missing", NULL, false), 3);
	expect_in(f->diag, "cannot open image directory");
	assert_int_equal(run(f, "missing", NULL, true), 3);
	expect_in(f->out, "\"exit_status\": 3");
	assert_int_equal(run(f, NULL, NULL, false), 2);
	expect_in(f->diag, "which directory?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lists_and_chooses),
		cmocka_unit_test(json_output),
		cmocka_unit_test(bad_inputs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
