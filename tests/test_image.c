/* Loading images from files: .bin with an address, HEX, every refusal
 * (empty, huge, not regular, unreadable, extension contradicted by the
 * content), identity and the "changed since loaded" re-check, and role
 * checks on whole images. Files live in a fresh temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "bench/synth.h"
#include "images/image.h"
#include "sha256.h"

struct fixture {
	char dir[64];
	uint8_t *fw;
	size_t fw_len;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/vr-test-image-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->fw = malloc(SYNTH_FW6_SIZE);
	f->fw_len = synth_firmware(f->fw, SYNTH_FW6_SIZE, 6, 5, 11);
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
	/* Only our own mkdtemp directory; FTW_PHYS never follows a link out. */
	int rc = nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f->fw);
	free(f);
	return rc == 0 ? 0 : -1;
}

static const char *path_in(const struct fixture *f, const char *name, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%s", f->dir, name);
	return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void expect_load_fail(const char *path, enum image_format fmt, const char *needle)
{
	struct image img;
	struct vr_error err;
	image_init(&img);
	vr_error_clear(&err);
	assert_int_equal(image_load(path, fmt, 0x08000000u, &img, &err), VR_ERR_INPUT);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
	assert_true(image_empty(&img));
	image_free(&img);
}

static void bin_loads_with_identity(void **state)
{
	struct fixture *f = *state;
	char p[256];
	write_file(path_in(f, "VESC_default.bin", p, sizeof p), f->fw, f->fw_len);
	struct image img;
	struct vr_error err;
	image_init(&img);
	assert_int_equal(image_load(p, IMAGE_FORMAT_AUTO, 0x08000000u, &img, &err), VR_OK);
	assert_int_equal(img.format, IMAGE_FORMAT_BIN);
	assert_int_equal(img.n_segs, 1);
	assert_int_equal(image_lowest(&img), 0x08000000u);
	assert_int_equal(image_end(&img), 0x08000000u + 524280u);
	assert_memory_equal(img.segs[0].data, f->fw, f->fw_len);
	assert_true(img.id.known);
	assert_int_equal(img.id.size, (off_t)f->fw_len);
	uint8_t digest[SHA256_DIGEST_LEN];
	sha256(f->fw, f->fw_len, digest);
	assert_memory_equal(img.id.sha256, digest, SHA256_DIGEST_LEN);
	assert_string_equal(img.path, p);

	struct vesc_placement_result res;
	assert_int_equal(image_check_role(&img, VESC_ROLE_FIRMWARE, &res, &err), VR_OK);
	assert_int_equal(res.fw_gen, 6);
	assert_int_equal(image_check_role(&img, VESC_ROLE_BOOTLOADER, &res, &err), VR_ERR_INPUT);
	assert_non_null(strstr(err.msg, "this is a firmware, not a bootloader"));
	assert_non_null(strstr(err.msg, p));
	image_free(&img);

	/* the same firmware given at the bootloader's address */
	image_init(&img);
	assert_int_equal(image_load(p, IMAGE_FORMAT_BIN, 0x080E0000u, &img, &err), VR_OK);
	assert_int_equal(image_check_role(&img, VESC_ROLE_UNKNOWN, &res, &err), VR_ERR_INPUT);
	assert_non_null(strstr(err.msg, "belongs at 0x08000000"));
	image_free(&img);
}

static void bootloader_bin(void **state)
{
	struct fixture *f = *state;
	char p[256];
	uint8_t bl[8192];
	size_t n = synth_bootloader(bl, sizeof bl, BL_KIND_GENERIC);
	write_file(path_in(f, "generic.bin", p, sizeof p), bl, n);
	struct image img;
	struct vr_error err;
	struct vesc_placement_result res;
	image_init(&img);
	assert_int_equal(image_load(p, IMAGE_FORMAT_AUTO, 0x080E0000u, &img, &err), VR_OK);
	assert_int_equal(image_check_role(&img, VESC_ROLE_BOOTLOADER, &res, &err), VR_OK);
	assert_int_equal(image_check_role(&img, VESC_ROLE_FIRMWARE, &res, &err), VR_ERR_INPUT);
	assert_non_null(strstr(err.msg, "this is a bootloader, not a firmware"));
	image_free(&img);
}

static void refusals(void **state)
{
	struct fixture *f = *state;
	char p[256];

	write_file(path_in(f, "empty.bin", p, sizeof p), "", 0);
	expect_load_fail(p, IMAGE_FORMAT_AUTO, "is empty (0 bytes)");

	/* huge: a sparse file, refused from its size alone */
	path_in(f, "huge.bin", p, sizeof p);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 3 * 1024 * 1024), 0);
	close(fd);
	expect_load_fail(p, IMAGE_FORMAT_AUTO, "3145728 bytes, more than the 2097152");
	path_in(f, "huge.hex", p, sizeof p);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 5 * 1024 * 1024), 0);
	close(fd);
	expect_load_fail(p, IMAGE_FORMAT_AUTO, "more than the 4194304");

	expect_load_fail(f->dir, IMAGE_FORMAT_AUTO, "is a directory, not a regular file");
	path_in(f, "fifo.bin", p, sizeof p);
	assert_int_equal(mkfifo(p, 0600), 0);
	expect_load_fail(p, IMAGE_FORMAT_AUTO, "is a FIFO, not a regular file");
	expect_load_fail("/dev/null", IMAGE_FORMAT_AUTO, "a character device");

	expect_load_fail(path_in(f, "missing.bin", p, sizeof p), IMAGE_FORMAT_AUTO,
			 "No such file or directory");
	if (geteuid() != 0) {
		write_file(path_in(f, "secret.bin", p, sizeof p), f->fw, 64);
		assert_int_equal(chmod(p, 0), 0);
		expect_load_fail(p, IMAGE_FORMAT_AUTO, "Permission denied");
	}

	/* extension contradicted by the content */
	write_file(path_in(f, "raw.hex", p, sizeof p), f->fw, 4096);
	expect_load_fail(p, IMAGE_FORMAT_AUTO, "is named as Intel HEX but holds binary data");
	const char *hex = ":0400000001020304F2\n:00000001FF\n";
	write_file(path_in(f, "text.bin", p, sizeof p), hex, strlen(hex));
	expect_load_fail(p, IMAGE_FORMAT_AUTO, "is named .bin but holds Intel HEX text");
	const uint8_t elf[16] = {0x7F, 'E', 'L', 'F', 1, 1, 1, 0};
	write_file(path_in(f, "fw.bin", p, sizeof p), elf, sizeof elf);
	expect_load_fail(p, IMAGE_FORMAT_AUTO, "is an ELF file");
	/* truncated HEX on disk */
	write_file(path_in(f, "cut.hex", p, sizeof p), hex, 20);
	expect_load_fail(p, IMAGE_FORMAT_AUTO, "without an end-of-file record");
	write_file(path_in(f, "cut2.hex", p, sizeof p), hex, 25);
	expect_load_fail(p, IMAGE_FORMAT_AUTO, "line 2 is cut short");
}

static void hex_file_and_sniffing(void **state)
{
	struct fixture *f = *state;
	char p[256];
	const char *hex = ":020000040800F2\r\n:0400000001020304F2\r\n:00000001FF\r\n";
	struct image img;
	struct vr_error err;
	write_file(path_in(f, "fw.hex", p, sizeof p), hex, strlen(hex));
	image_init(&img);
	assert_int_equal(image_load(p, IMAGE_FORMAT_AUTO, 0, &img, &err), VR_OK);
	assert_int_equal(img.format, IMAGE_FORMAT_HEX);
	assert_int_equal(image_lowest(&img), 0x08000000u);
	image_free(&img);

	/* no telling extension: the content decides */
	write_file(path_in(f, "fw.img", p, sizeof p), hex, strlen(hex));
	image_init(&img);
	assert_int_equal(image_load(p, IMAGE_FORMAT_AUTO, 0, &img, &err), VR_OK);
	assert_int_equal(img.format, IMAGE_FORMAT_HEX);
	image_free(&img);
	write_file(path_in(f, "fw.raw", p, sizeof p), f->fw, 1024);
	image_init(&img);
	assert_int_equal(image_load(p, IMAGE_FORMAT_AUTO, 0x08000000u, &img, &err), VR_OK);
	assert_int_equal(img.format, IMAGE_FORMAT_BIN);
	image_free(&img);

	assert_int_equal(image_format_from_name("a/b.BIN"), IMAGE_FORMAT_BIN);
	assert_int_equal(image_format_from_name("x.ihex"), IMAGE_FORMAT_HEX);
	assert_int_equal(image_format_from_name("x.ihx"), IMAGE_FORMAT_HEX);
	assert_int_equal(image_format_from_name("dir.hex/file"), IMAGE_FORMAT_AUTO);
	assert_int_equal(image_format_from_name("noext"), IMAGE_FORMAT_AUTO);
	assert_string_equal(image_format_name(IMAGE_FORMAT_HEX), "hex");
}

static void combined_hex_reaching_sector_11(void **state)
{
	(void)state;
	/* firmware vector at 0x08000000 and more bytes at 0x080E0000: one
	 * image spanning both is refused as a firmware. */
	struct image img;
	struct vr_error err;
	image_init(&img);
	assert_int_equal(image_add(&img, 0x08000000u, ((struct fixture *)*state)->fw, 4096, &err), VR_OK);
	uint8_t bl[8192];
	size_t n = synth_bootloader(bl, sizeof bl, BL_KIND_GENERIC);
	assert_int_equal(image_add(&img, 0x080E0000u, bl, n, &err), VR_OK);
	struct vesc_placement_result res;
	assert_int_equal(image_check_role(&img, VESC_ROLE_FIRMWARE, &res, &err), VR_ERR_INPUT);
	assert_non_null(strstr(err.msg, "would reach sector 11"));
	assert_int_equal(image_add(&img, 0x08000800u, bl, 16, &err), VR_ERR_INPUT);
	image_free(&img);
	image_init(&img);
	assert_int_equal(image_check_role(&img, VESC_ROLE_FIRMWARE, &res, &err), VR_ERR_INPUT);
	assert_non_null(strstr(err.msg, "no bytes"));
}

static void recheck_detects_change(void **state)
{
	struct fixture *f = *state;
	char p[256];
	path_in(f, "check.bin", p, sizeof p);
	write_file(p, f->fw, 8192);
	struct image img;
	struct vr_error err;
	image_init(&img);
	assert_int_equal(image_load(p, IMAGE_FORMAT_AUTO, 0x08000000u, &img, &err), VR_OK);
	assert_int_equal(image_recheck(&img, &err), VR_OK);

	/* same size, same mtime, one byte different: only the hash can tell */
	struct stat before;
	assert_int_equal(stat(p, &before), 0);
	int fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	uint8_t flipped = (uint8_t)(f->fw[100] ^ 0xFF);
	assert_int_equal(pwrite(fd, &flipped, 1, 100), 1);
	struct timespec times[2] = {before.st_atim, before.st_mtim};
	assert_int_equal(futimens(fd, times), 0);
	close(fd);
	assert_int_equal(image_recheck(&img, &err), VR_ERR_INPUT);
	assert_non_null(strstr(err.msg, "SHA-256 differs"));

	/* a new mtime */
	write_file(p, f->fw, 8192);
	struct timespec later[2] = {{.tv_sec = before.st_mtim.tv_sec + 10}, {.tv_sec = before.st_mtim.tv_sec + 10}};
	assert_int_equal(utimensat(AT_FDCWD, p, later, 0), 0);
	assert_int_equal(image_recheck(&img, &err), VR_ERR_INPUT);
	assert_non_null(strstr(err.msg, "changed since it was loaded"));

	/* gone */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(image_recheck(&img, &err), VR_ERR_INPUT);
	assert_non_null(strstr(err.msg, "is gone"));
	image_free(&img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bin_loads_with_identity),
		cmocka_unit_test(bootloader_bin),
		cmocka_unit_test(refusals),
		cmocka_unit_test(hex_file_and_sniffing),
		cmocka_unit_test(combined_hex_reaching_sector_11),
		cmocka_unit_test(recheck_detects_change),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
