/* Image-tree lookup on temporary trees: VESC Tool's res/ layout with
 * "_o_" groups and bootloaders, the archive layout with two versions,
 * foreign directories ignored, symlink loops, depth limits, bad roots. */
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

#include "images/image_tree.h"

#define BL60 "60_o_75_300_o_HD60_o_UAVC_OMEGA_o_75_300_R2_o_60_MK3_o_100_250_o_75_300_R3_o_60_MK4_o_60_MK5_o_HD75.bin"
#define BL40 "40_o_47_o_48_o_410_o_411_o_412_o_DAS_RS.bin"

struct fixture {
	char dir[64];
};

static void make_dirs(const char *root, const char *rel)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0700);
		*p = '/';
	}
	mkdir(path, 0700);
}

/* Creates root/rel (and its directories) holding a few bytes. */
static void touch(const char *root, const char *rel)
{
	char dir_rel[1024];
	snprintf(dir_rel, sizeof dir_rel, "%s", rel);
	char *slash = strrchr(dir_rel, '/');
	if (slash) {
		*slash = '\0';
		make_dirs(root, dir_rel);
	}
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	fputs(rel, fp);
	fclose(fp);
}

static void link_at(const char *root, const char *rel, const char *target)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/vr-test-tree-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	const char *files[] = {
		"res/firmwares/410_o_411_o_412/VESC_default.bin",
		"res/firmwares/410_o_411_o_412/VESC_default_no_hw_limits.bin",
		"res/firmwares/60/VESC_default.bin",
		"res/firmwares/60_MK6/VESC_default.bin",
		"res/firmwares/60_MK6/VESC_33k.bin",
		"res/firmwares/46_o_47/VESC_default.bin",
		"res/firmwares/CHANGELOG.md",
		"res/bootloaders/generic.bin",
		"res/bootloaders/" BL40,
		"res/bootloaders/" BL60,
		"res/bootloaders_bms/generic.bin",
		"res/bootloaders_custom_module/stm32g431/stm32g431.bin",
		"res/other_fw/nrf52.bin",
		"res/.hidden/VESC_default.bin",
		"archive/6.05/60_MK6/VESC_default.bin",
		"archive/7.00/60_MK6/VESC_default.bin",
		"archive/7.00/60_MK6/VESC_default_no_hw_limits.bin",
		"archive/7.00/Little_FOCer_V3_1/VESC_default.bin",
		"deep/a/b/c/d/e/f/g/h/VESC_default.bin",
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		touch(f->dir, files[i]);
	/* loops: back to res, to itself, and to the fixture root */
	link_at(f->dir, "res/firmwares/loop", "..");
	link_at(f->dir, "res/self", ".");
	link_at(f->dir, "archive/7.00/up", "../..");
	link_at(f->dir, "res/dangling", "nowhere");
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

static void scan(const struct fixture *f, const char *rel, struct image_tree *t)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", f->dir, rel);
	struct vr_error err;
	vr_error_clear(&err);
	if (image_tree_scan(path, t, &err) != VR_OK)
		fail_msg("scan %s: %s", path, err.msg);
}

static void name_matching(void **state)
{
	(void)state;
	assert_true(image_tree_name_matches("410_o_411_o_412", "411"));
	assert_true(image_tree_name_matches("410_o_411_o_412", "412"));
	assert_true(image_tree_name_matches("410_o_411_o_412", "410"));
	assert_false(image_tree_name_matches("410_o_411_o_412", "41"));
	assert_false(image_tree_name_matches("410_o_411_o_412", "410_o_411"));
	assert_true(image_tree_name_matches(BL60, "60"));
	assert_true(image_tree_name_matches(BL60, "75_300"));
	assert_true(image_tree_name_matches(BL60, "hd75"));          /* ".bin" stripped, any case */
	assert_false(image_tree_name_matches(BL60, "60_MK6"));
	assert_false(image_tree_name_matches(BL60, "75"));
	assert_true(image_tree_name_matches("60_MK6", "60_mk6"));
	assert_false(image_tree_name_matches("60_MK6", "60"));
	assert_false(image_tree_name_matches("60", ""));
	assert_false(image_tree_name_matches(NULL, "60"));
	assert_true(image_tree_name_matches("a_o_", "a"));
	assert_false(image_tree_name_matches("a_o_b", "_o_"));
}

static const struct tree_file *find(const struct image_tree *t, const char *suffix)
{
	const struct tree_file *found = NULL;
	for (size_t i = 0; i < t->n_files; i++) {
		size_t n = strlen(t->files[i].path), s = strlen(suffix);
		if (n >= s && strcmp(t->files[i].path + n - s, suffix) == 0) {
			assert_null(found);   /* listed once, symlink loops or not */
			found = &t->files[i];
		}
	}
	return found;
}

static void res_layout(void **state)
{
	struct fixture *f = *state;
	struct image_tree t;
	scan(f, "res", &t);
	/* 6 firmware + 3 bootloaders; foreign, hidden and non-.bin ignored */
	assert_int_equal(t.n_files, 9);
	assert_true(t.skipped_loops >= 2);     /* "loop" and "self" */
	assert_true(t.skipped_outside >= 1);   /* "dangling" */
	assert_null(find(&t, "bootloaders_bms/generic.bin"));
	assert_null(find(&t, "nrf52.bin"));
	const struct tree_file *g = find(&t, "res/bootloaders/generic.bin");
	assert_non_null(g);
	assert_int_equal(g->kind, TREE_BOOTLOADER);
	assert_string_equal(g->group, "generic");
	const struct tree_file *d = find(&t, "410_o_411_o_412/VESC_default.bin");
	assert_non_null(d);
	assert_int_equal(d->kind, TREE_FIRMWARE);
	assert_string_equal(d->group, "410_o_411_o_412");
	assert_string_equal(d->version, "");
	assert_true(image_tree_is_default(d));

	struct image_tree_match m;
	image_tree_lookup(&t, "411", &m);
	assert_int_equal(m.n_defaults, 1);
	assert_ptr_equal(m.firmware, d);
	assert_int_equal(m.n_variants, 1);
	assert_string_equal(m.variants[0]->name, "VESC_default_no_hw_limits.bin");
	assert_non_null(m.bootloader);
	assert_string_equal(m.bootloader->name, BL40);
	assert_false(m.bootloader_is_generic);

	image_tree_lookup(&t, "60", &m);
	assert_int_equal(m.n_defaults, 1);
	assert_string_equal(m.firmware->group, "60");
	assert_string_equal(m.bootloader->name, BL60);

	image_tree_lookup(&t, "60_MK6", &m);
	assert_int_equal(m.n_defaults, 1);
	assert_string_equal(m.firmware->group, "60_MK6");
	assert_non_null(m.bootloader);
	assert_string_equal(m.bootloader->name, "generic.bin");
	assert_true(m.bootloader_is_generic);
	assert_int_equal(m.n_variants, 1);

	image_tree_lookup(&t, "47", &m);
	assert_string_equal(m.firmware->group, "46_o_47");
	assert_string_equal(m.bootloader->name, BL40);

	/* a bootloader but no firmware for this HW */
	image_tree_lookup(&t, "75_300", &m);
	assert_int_equal(m.n_defaults, 0);
	assert_null(m.firmware);
	assert_string_equal(m.bootloader->name, BL60);

	image_tree_lookup(&t, "", &m);
	assert_int_equal(m.n_defaults, 0);
	assert_int_equal(m.n_bootloaders, 0);
	image_tree_free(&t);
}

static void roots_at_other_levels(void **state)
{
	struct fixture *f = *state;
	struct image_tree t;
	struct image_tree_match m;
	/* res/firmwares: its "loop" link leads out of it, so no bootloaders */
	scan(f, "res/firmwares", &t);
	image_tree_lookup(&t, "412", &m);
	assert_int_equal(m.n_defaults, 1);
	assert_int_equal(m.n_bootloaders, 0);
	assert_true(t.skipped_outside > 0);
	image_tree_free(&t);
	scan(f, "res/firmwares/60_MK6", &t);
	assert_int_equal(t.n_files, 2);
	image_tree_lookup(&t, "60_mk6", &m);
	assert_non_null(m.firmware);
	image_tree_free(&t);
	scan(f, "res/firmwares/60_MK6/", &t);
	image_tree_lookup(&t, "60_MK6", &m);
	assert_non_null(m.firmware);
	image_tree_free(&t);
}

static void archive_layout_lists_versions(void **state)
{
	struct fixture *f = *state;
	struct image_tree t;
	scan(f, "archive", &t);
	struct image_tree_match m;
	image_tree_lookup(&t, "60_MK6", &m);
	/* two versions: both listed, newest first, none chosen */
	assert_int_equal(m.n_defaults, 2);
	assert_null(m.firmware);
	assert_string_equal(m.defaults[0]->version, "7.00");
	assert_string_equal(m.defaults[1]->version, "6.05");
	assert_int_equal(m.n_groups, 1);
	assert_int_equal(m.n_bootloaders, 0);   /* the archive holds no bootloaders */
	assert_null(m.bootloader);
	image_tree_lookup(&t, "little_focer_v3_1", &m);
	assert_int_equal(m.n_defaults, 1);
	assert_string_equal(m.firmware->version, "7.00");
	image_tree_free(&t);

	scan(f, "archive/7.00", &t);
	image_tree_lookup(&t, "60_MK6", &m);
	assert_int_equal(m.n_defaults, 1);
	assert_string_equal(m.firmware->version, "7.00");
	image_tree_free(&t);
}

static void depth_is_bounded(void **state)
{
	struct fixture *f = *state;
	struct image_tree t;
	scan(f, "deep", &t);
	assert_int_equal(t.n_files, 0);
	assert_true(t.skipped_deep > 0);
	image_tree_free(&t);
	/* the whole fixture: loops through archive/7.00/up are cut */
	scan(f, "", &t);
	assert_non_null(find(&t, "archive/7.00/60_MK6/VESC_default.bin"));
	assert_true(t.skipped_loops > 0);
	image_tree_free(&t);
}

static void bad_roots(void **state)
{
	struct fixture *f = *state;
	struct image_tree t;
	struct vr_error err;
	char path[256];
	snprintf(path, sizeof path, "%s/missing", f->dir);
	assert_int_equal(image_tree_scan(path, &t, &err), VR_ERR_INPUT);
	assert_non_null(strstr(err.msg, "No such file or directory"));
	snprintf(path, sizeof path, "%s/res/bootloaders/generic.bin", f->dir);
	assert_int_equal(image_tree_scan(path, &t, &err), VR_ERR_INPUT);
	assert_non_null(strstr(err.msg, "is not a directory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(name_matching),
		cmocka_unit_test(res_layout),
		cmocka_unit_test(roots_at_other_levels),
		cmocka_unit_test(archive_layout_lists_versions),
		cmocka_unit_test(depth_is_bounded),
		cmocka_unit_test(bad_roots),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
