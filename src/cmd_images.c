#include "cmd_images.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "errors.h"
#include "images/image.h"
#include "images/image_tree.h"
#include "images/vesc_layout.h"
#include "json.h"
#include "version.h"

#define CHECK_TEXT 320

struct file_check {
	bool ok;
	enum vesc_role role;
	int fw_gen;                 /* firmware: 6, 5 or 0 */
	enum bl_kind bl_kind;       /* bootloader */
	bool known_build;           /* bootloader: a released file's hash */
	char text[CHECK_TEXT];
};

struct images_report {
	struct image_tree tree;
	struct file_check *checks;  /* one per tree file */
	unsigned n_firmware, n_bootloaders, n_bad, n_groups;
	bool have_match;
	struct image_tree_match match;
	const char *hw;
};

/* ---- checking each file ----------------------------------------------------- */
static void fail_check(struct file_check *c, const struct vr_error *err)
{
	c->ok = false;
	snprintf(c->text, sizeof c->text, "%s", err->msg);
}

static void judge_app(const struct image *img, struct file_check *c)
{
	uint8_t *region = malloc(VESC_APP_REGION_SIZE);
	if (region == NULL) {
		c->ok = false;
		snprintf(c->text, sizeof c->text, "out of memory checking the image");
		return;
	}
	image_read_range(img, VESC_APP_BASE, region, VESC_APP_REGION_SIZE, 0xFF);
	struct app_obs app;
	vesc_check_app(region, VESC_APP_REGION_SIZE, &app);
	enum vesc_config_fill fill = vesc_config_window(region, VESC_APP_REGION_SIZE);
	free(region);
	char what[200];
	vesc_describe_app(&app, what, sizeof what);
	/* A release image was never booted; a booted one (a read-back) must
	 * pass its CRC, and crcinfo garbage means a damaged file. */
	c->ok = app.vector_valid && app.crcinfo != CRCINFO_GARBAGE && !(app.crc_checked && !app.crc_ok);
	snprintf(c->text, sizeof c->text, "%s; configuration window: %s", what, vesc_config_fill_name(fill));
}

static void check_firmware(const struct tree_file *f, struct file_check *c)
{
	struct image img;
	struct vr_error err;
	image_init(&img);
	vr_error_clear(&err);
	c->role = VESC_ROLE_FIRMWARE;
	struct vesc_placement_result res;
	memset(&res, 0, sizeof res);
	if (image_load(f->path, IMAGE_FORMAT_BIN, VESC_APP_BASE, &img, &err) != VR_OK ||
	    image_check_role(&img, VESC_ROLE_FIRMWARE, &res, &err) != VR_OK) {
		/* what the vector table says it is, when the file could be read */
		c->role = img.n_segs > 0 ? res.role : VESC_ROLE_UNKNOWN;
		fail_check(c, &err);
		image_free(&img);
		return;
	}
	c->fw_gen = res.fw_gen;
	judge_app(&img, c);
	image_free(&img);
}

static void check_bootloader(const struct tree_file *f, struct file_check *c)
{
	struct image img;
	struct vr_error err;
	image_init(&img);
	vr_error_clear(&err);
	c->role = VESC_ROLE_BOOTLOADER;
	struct vesc_placement_result res;
	memset(&res, 0, sizeof res);
	if (image_load(f->path, IMAGE_FORMAT_BIN, VESC_BOOTLOADER_BASE, &img, &err) != VR_OK ||
	    image_check_role(&img, VESC_ROLE_BOOTLOADER, &res, &err) != VR_OK) {
		/* what the vector table says it is, when the file could be read */
		c->role = img.n_segs > 0 ? res.role : VESC_ROLE_UNKNOWN;
		fail_check(c, &err);
		image_free(&img);
		return;
	}
	struct bootloader_obs bl;
	vesc_check_bootloader(img.segs[0].data, img.segs[0].len, &bl);
	c->ok = bl.present;
	c->bl_kind = bl.kind;
	c->known_build = bl.hash_known;
	vesc_describe_bootloader(&bl, c->text, sizeof c->text);
	image_free(&img);
}

static void check_all(struct images_report *r)
{
	const char *last_group = NULL;
	for (size_t i = 0; i < r->tree.n_files; i++) {
		const struct tree_file *f = &r->tree.files[i];
		struct file_check *c = &r->checks[i];
		if (f->kind == TREE_FIRMWARE) {
			r->n_firmware++;
			if (last_group == NULL || strcasecmp(last_group, f->group) != 0)
				r->n_groups++;
			last_group = f->group;
			check_firmware(f, c);
		} else {
			r->n_bootloaders++;
			check_bootloader(f, c);
		}
		if (!c->ok)
			r->n_bad++;
	}
}

static int exit_status(const struct images_report *r)
{
	if (r->tree.n_files == 0 || r->n_bad > 0)
		return VR_EXIT_INPUT;
	if (r->have_match && r->match.n_defaults == 0)
		return VR_EXIT_INPUT;
	return VR_EXIT_OK;
}

/* ---- text -------------------------------------------------------------------- */
static const struct file_check *check_of(const struct images_report *r, const struct tree_file *f)
{
	return &r->checks[f - r->tree.files];
}

static void text_files(const struct images_report *r, FILE *out, enum tree_file_kind kind)
{
	for (size_t i = 0; i < r->tree.n_files; i++) {
		const struct tree_file *f = &r->tree.files[i];
		if (f->kind != kind)
			continue;
		const struct file_check *c = &r->checks[i];
		if (kind == TREE_FIRMWARE)
			fprintf(out, "  %-24s %-7s %-34s %8lld  %s: %s\n", f->group, f->version[0] ? f->version : "-",
				f->name, f->size, c->ok ? "ok" : "BAD", c->text);
		else
			fprintf(out, "  %-50.50s %8lld  %s: %s\n", f->name, f->size, c->ok ? "ok" : "BAD", c->text);
	}
}

static void text_candidates(FILE *out, const char *label, const struct tree_file *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %s %zu: %s%s%s%s\n", label, i + 1, list[i]->path,
			list[i]->version[0] ? " (version " : "", list[i]->version,
			list[i]->version[0] ? ")" : "");
}

static void text_firmware_choice(const struct images_report *r, FILE *out)
{
	const struct image_tree_match *m = &r->match;
	if (m->firmware != NULL) {
		const struct file_check *c = check_of(r, m->firmware);
		fprintf(out, "  firmware:   %s (group %s)%s\n", m->firmware->path, m->firmware->group,
			c->ok ? "" : "  -- this file FAILED its check, see above");
	} else if (m->n_defaults > 1) {
		fprintf(out, "  firmware:   %zu candidates in %zu group(s); not choosing for you: pick one "
			"with --firmware FILE (or narrow --images to one version)\n", m->n_defaults, m->n_groups);
		text_candidates(out, "candidate", m->defaults, m->n_defaults);
	} else {
		fprintf(out, "  firmware:   none: no firmware group under %s has a part named \"%s\" "
			"(groups are matched on their _o_-separated parts, case ignored)\n", r->tree.root, r->hw);
	}
	for (size_t i = 0; i < m->n_variants; i++)
		fprintf(out, "  variant:    %s\n", m->variants[i]->path);
}

static void text_bootloader_choice(const struct images_report *r, FILE *out)
{
	const struct image_tree_match *m = &r->match;
	const char *why = m->bootloader_is_generic ? " (no bootloader file names this HW: generic.bin, "
						     "as VESC Tool chooses)" : "";
	if (m->bootloader != NULL)
		fprintf(out, "  bootloader: %s%s\n", m->bootloader->path, why);
	else if (m->n_bootloaders > 1) {
		fprintf(out, "  bootloader: %zu candidates%s; pick one with --bootloader FILE\n",
			m->n_bootloaders, why);
		text_candidates(out, "bootloader", m->bootloaders, m->n_bootloaders);
	} else
		fprintf(out, "  bootloader: none under %s (no matching file and no generic.bin)\n", r->tree.root);
}

static void text_report(const struct images_report *r, FILE *out)
{
	fprintf(out, "Images under %s: %u firmware file(s) in %u group(s), %u bootloader(s)%s\n",
		r->tree.root, r->n_firmware, r->n_groups, r->n_bootloaders,
		r->n_bad ? "" : ", all pass their checks");
	if (r->n_firmware) {
		fprintf(out, "\nFirmware (written at 0x08000000)\n  %-24s %-7s %-34s %8s  check\n", "group",
			"version", "file", "bytes");
		text_files(r, out, TREE_FIRMWARE);
	}
	if (r->n_bootloaders) {
		fprintf(out, "\nBootloaders (written at 0x080E0000)\n");
		text_files(r, out, TREE_BOOTLOADER);
	}
	if (r->tree.skipped_loops || r->tree.skipped_deep || r->tree.skipped_outside || r->tree.truncated)
		fprintf(out, "\nNot followed: %u symlink loop(s), %u link(s) leading out of the directory, "
			"%u directory(ies) deeper than %d levels%s\n", r->tree.skipped_loops,
			r->tree.skipped_outside, r->tree.skipped_deep, IMAGE_TREE_MAX_DEPTH,
			r->tree.truncated ? "; the listing was cut at its size limit" : "");
	if (r->have_match) {
		fprintf(out, "\nFor HW \"%s\":\n", r->hw);
		text_firmware_choice(r, out);
		text_bootloader_choice(r, out);
	}
}

/* ---- JSON -------------------------------------------------------------------- */
static void json_file_list(struct json_writer *w, const char *key, const struct tree_file *const *list, size_t n)
{
	json_array_begin(w, key);
	for (size_t i = 0; i < n; i++)
		json_string(w, NULL, list[i]->path);
	json_array_end(w);
}

static void json_files(const struct images_report *r, struct json_writer *w, enum tree_file_kind kind)
{
	json_array_begin(w, kind == TREE_FIRMWARE ? "firmwares" : "bootloaders");
	for (size_t i = 0; i < r->tree.n_files; i++) {
		const struct tree_file *f = &r->tree.files[i];
		const struct file_check *c = &r->checks[i];
		if (f->kind != kind)
			continue;
		json_object_begin(w, NULL);
		json_string(w, "path", f->path);
		json_string(w, "file", f->name);
		json_string(w, "group", f->group);
		if (kind == TREE_FIRMWARE) {
			json_string(w, "version", f->version[0] ? f->version : NULL);
			if (c->fw_gen)
				json_int(w, "fw_gen", c->fw_gen);
			else
				json_null(w, "fw_gen");
		} else {
			json_string(w, "kind", c->ok ? bl_kind_name(c->bl_kind) : NULL);
			json_bool(w, "known_build", c->known_build);
		}
		json_int(w, "size", f->size);
		json_string(w, "role", vesc_role_name(c->role));
		json_bool(w, "ok", c->ok);
		json_string(w, "check", c->text);
		json_object_end(w);
	}
	json_array_end(w);
}

static void json_match(const struct images_report *r, struct json_writer *w)
{
	const struct image_tree_match *m = &r->match;
	json_object_begin(w, "hw");
	json_string(w, "name", r->hw);
	json_string(w, "firmware", m->firmware ? m->firmware->path : NULL);
	json_file_list(w, "candidates", m->defaults, m->n_defaults);
	json_file_list(w, "variants", m->variants, m->n_variants);
	json_string(w, "bootloader", m->bootloader ? m->bootloader->path : NULL);
	json_bool(w, "bootloader_generic", m->bootloader_is_generic);
	json_file_list(w, "bootloader_candidates", m->bootloaders, m->n_bootloaders);
	json_object_end(w);
}

static void json_report(const struct images_report *r, FILE *out, int status, const char *error)
{
	struct json_writer w;
	json_init(&w, out, true);
	json_object_begin(&w, NULL);
	json_int(&w, "schema", 1);
	json_string(&w, "tool", "vesc-rescue " VR_VERSION);
	json_string(&w, "command", "images");
	json_string(&w, "dir", r->tree.root);
	json_files(r, &w, TREE_FIRMWARE);
	json_files(r, &w, TREE_BOOTLOADER);
	json_object_begin(&w, "skipped");
	json_uint(&w, "loops", r->tree.skipped_loops);
	json_uint(&w, "outside", r->tree.skipped_outside);
	json_uint(&w, "deep", r->tree.skipped_deep);
	json_bool(&w, "truncated", r->tree.truncated);
	json_object_end(&w);
	if (r->have_match)
		json_match(r, &w);
	json_string(&w, "error", error);
	json_int(&w, "exit_status", status);
	json_object_end(&w);
	json_finish(&w);
}

/* ---- command ------------------------------------------------------------------ */
static int fail_early(const struct cli_options *opts, FILE *out, FILE *diag, const struct vr_error *err)
{
	int status = vr_err_exit_status(err->code);
	if (opts->json) {
		struct json_writer w;
		json_init(&w, out, true);
		json_object_begin(&w, NULL);
		json_int(&w, "schema", 1);
		json_string(&w, "tool", "vesc-rescue " VR_VERSION);
		json_string(&w, "command", "images");
		json_string(&w, "dir", opts->file);
		json_string(&w, "error", err->msg);
		json_int(&w, "exit_status", status);
		json_object_end(&w);
		json_finish(&w);
	}
	fprintf(diag, "vesc-rescue images: %s\n", err->msg);
	return status;
}

static const char *summary_error(const struct images_report *r, char *buf, size_t cap)
{
	if (r->tree.n_files == 0)
		snprintf(buf, cap, "no firmware or bootloader .bin files under %s (expected VESC Tool's "
			 "res/firmwares/<group>/*.bin and res/bootloaders/, or <version>/<group>/*.bin)",
			 r->tree.root);
	else if (r->n_bad > 0)
		snprintf(buf, cap, "%u image file(s) failed their checks (marked BAD)", r->n_bad);
	else if (r->have_match && r->match.n_defaults == 0)
		snprintf(buf, cap, "no VESC_default.bin for HW \"%s\" under %s", r->hw, r->tree.root);
	else
		return NULL;
	return buf;
}

int cmd_images_to(const struct cli_options *opts, FILE *out, FILE *diag)
{
	struct vr_error err;
	vr_error_clear(&err);
	if (opts->file == NULL || opts->file[0] == '\0') {
		vr_fail(&err, VR_ERR_USAGE, "which directory? usage: vesc-rescue images DIR [--hw NAME] [--json]");
		return fail_early(opts, out, diag, &err);
	}
	struct images_report r;
	memset(&r, 0, sizeof r);
	if (image_tree_scan(opts->file, &r.tree, &err) != VR_OK)
		return fail_early(opts, out, diag, &err);
	r.checks = calloc(r.tree.n_files ? r.tree.n_files : 1, sizeof *r.checks);
	if (r.checks == NULL) {
		image_tree_free(&r.tree);
		vr_fail(&err, VR_ERR_NOMEM, "out of memory checking the images");
		return fail_early(opts, out, diag, &err);
	}
	check_all(&r);
	r.hw = opts->hw_name;
	if (r.hw != NULL && r.hw[0] != '\0') {
		r.have_match = true;
		image_tree_lookup(&r.tree, r.hw, &r.match);
	}
	int status = exit_status(&r);
	char buf[400];
	const char *error = summary_error(&r, buf, sizeof buf);
	if (opts->json)
		json_report(&r, out, status, error);
	else
		text_report(&r, out);
	if (error != NULL)
		fprintf(diag, "vesc-rescue images: %s\n", error);
	free(r.checks);
	image_tree_free(&r.tree);
	return status;
}

int cmd_images(const struct cli_options *opts)
{
	return cmd_images_to(opts, stdout, stderr);
}
