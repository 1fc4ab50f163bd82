/* The single-operation subcommands: survey, backup, erase, write, verify,
 * restore. Each attaches over SWD (the same ladder as `probe`), and every
 * one that changes flash first saves a verified backup and asks. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup.h"
#include "commands.h"
#include "images/image.h"
#include "json.h"
#include "report.h"
#include "session.h"
#include "stm32f4.h"
#include "transcript.h"

struct flash_cmd {
	const struct cli_options *opts;
	const char *name;               /* the subcommand, for --json */
	char backup_path[512];          /* the backup this command saved first */
	uint32_t address;
	size_t bytes;
	struct session *session;
	struct observations *obs;
	struct stm32f4 *target;
	struct run_hooks hooks;
	struct transcript log;
};

static void log_line(void *ctx, const char *line)
{
	struct flash_cmd *c = ctx;
	if (!c->opts->json)
		fprintf(stderr, "  %s\n", line);
	transcript_line(&c->log, line);
}

static bool confirm_tty(void *ctx, const struct engine_confirm *q)
{
	const struct cli_options *opts = ((const struct flash_cmd *)ctx)->opts;
	fprintf(stderr, "\n== %s\n%s\n", q->title, q->body);
	if (opts->yes && (!q->needs_unprotect || opts->allow_unprotect))
		return true;
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "no terminal to ask and --yes not given: refused\n");
		return false;
	}
	fprintf(stderr, "Continue? [y/N] ");
	char answer[16];
	return fgets(answer, sizeof answer, stdin) && (answer[0] == 'y' || answer[0] == 'Y');
}

static bool ask_person_tty(void *ctx, const char *instruction, unsigned timeout_ms)
{
	(void)ctx;
	(void)timeout_ms;
	fprintf(stderr, "\n== Your turn\n%s\n", instruction);
	if (!isatty(STDIN_FILENO))
		return false;
	fprintf(stderr, "Press Enter when done: ");
	char answer[16];
	return fgets(answer, sizeof answer, stdin) != NULL;
}

static vr_err attach(struct flash_cmd *c, struct vr_error *err)
{
	c->hooks = (struct run_hooks){.ctx = c, .log = log_line, .confirm = confirm_tty,
				      .ask_person = ask_person_tty};
	/* A file size limit makes the backup's write fail (EFBIG) instead of
	 * killing us with a partial backup on disk. */
	signal(SIGXFSZ, SIG_IGN);
	c->obs = calloc(1, sizeof *c->obs);
	if (!c->obs)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory");
	vr_err rc = transcript_open(&c->log, c->opts->log_path, err);
	if (!rc)
		rc = session_open(c->opts, &c->session, err);
	if (!rc)
		rc = session_probe_swd(c->session, &c->hooks, c->obs, err);
	if (!rc)
		c->target = session_target(c->session);
	if (!rc && !c->target)
		rc = vr_fail(err, VR_ERR_NO_DEVICE, "no SWD target attached");
	return rc;
}

static void success_json(const struct flash_cmd *c)
{
	struct json_writer w;
	json_init(&w, stdout, true);
	json_object_begin(&w, NULL);
	json_int(&w, "schema", 1);
	json_string(&w, "command", c->name);
	json_string(&w, "backup", c->backup_path[0] ? c->backup_path : NULL);
	if (c->bytes) {
		json_hex32(&w, "address", c->address);
		json_uint(&w, "bytes", c->bytes);
	}
	json_int(&w, "exit_status", 0);
	json_object_end(&w);
	json_finish(&w);
}

static int done(struct flash_cmd *c, vr_err rc, const struct vr_error *err)
{
	int status = rc ? cmd_fail(c->opts, err) : VR_EXIT_OK;
	if (!rc && c->opts && c->opts->json && c->name)
		success_json(c);
	session_close(c->session);
	free(c->obs);
	transcript_close(&c->log);
	return status;
}

static vr_err parse_sectors(const char *list, uint16_t *mask, struct vr_error *err)
{
	*mask = 0;
	const char *p = list;
	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b = a;
		if (end == p)
			return vr_fail(err, VR_ERR_USAGE, "--sectors wants a list like 0,3-7: '%s'", list);
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1)
				return vr_fail(err, VR_ERR_USAGE, "--sectors: a range needs an end: '%s'", list);
			p = end;
		}
		if (a < 0 || b > 11 || a > b)
			return vr_fail(err, VR_ERR_USAGE, "--sectors: sectors are 0 to 11: '%s'", list);
		for (long i = a; i <= b; i++)
			*mask |= (uint16_t)(1u << i);
		if (*p == ',')
			p++;
		else if (*p)
			return vr_fail(err, VR_ERR_USAGE, "--sectors wants a list like 0,3-7: '%s'", list);
	}
	return VR_OK;
}

/* ---- survey ------------------------------------------------------------ */

int cmd_survey(const struct cli_options *opts)
{
	struct flash_cmd c = {.opts = opts};
	struct vr_error err;
	vr_error_clear(&err);
	vr_err rc = attach(&c, &err);
	if (c.obs && c.obs->swd.tried) {
		if (opts->json) {
			struct json_writer w;
			json_init(&w, stdout, true);
			json_object_begin(&w, NULL);
			json_int(&w, "schema", 1);
			report_json_swd(&w, &c.obs->swd);
			json_int(&w, "exit_status", rc ? vr_err_exit_status(rc) : 0);
			json_object_end(&w);
			json_finish(&w);
			opts = NULL;
		} else {
			struct verdict v;
			memset(&v, 0, sizeof v);
			report_probe_text(stdout, c.obs, &v);
		}
	}
	if (rc && !opts) {
		fprintf(stderr, "vesc-rescue: %s\n", err.msg);
		int status = vr_err_exit_status(rc);
		c.opts = NULL;
		done(&c, VR_OK, &err);
		return status;
	}
	return done(&c, rc, &err);
}

/* ---- backup ------------------------------------------------------------ */

static vr_err take_backup(struct flash_cmd *c, const char *path, struct backup *b, struct vr_error *err)
{
	if (c->obs->swd.rdp != 0)
		return vr_fail(err, VR_ERR_PROTECTED, "the flash is read-protected (RDP level %d): nothing can "
			       "be saved, and nothing is erased by this command", c->obs->swd.rdp);
	char def[512];
	if (path && backup_check_new(path, err))
		return err->code;
	if (!path) {
		vr_err rc = backup_default_path(c->obs->swd.uid, def, sizeof def, err);
		if (rc)
			return rc;
		path = def;
	}
	vr_err rc = backup_read_chip(b, c->target, &c->obs->swd, &c->hooks, err);
	if (!rc)
		rc = backup_save(b, path, &c->obs->swd, err);
	if (!rc) {
		fprintf(stderr, "backup: %s (+ .json), read back and verified\n", path);
		snprintf(c->backup_path, sizeof c->backup_path, "%s", path);
	}
	return rc;
}

int cmd_backup(const struct cli_options *opts)
{
	struct flash_cmd c = {.opts = opts, .name = "backup"};
	struct vr_error err;
	vr_error_clear(&err);
	struct backup b;
	backup_init(&b);
	/* Refuse an existing file before reading a megabyte over SWD. */
	if (backup_check_new(opts->file, &err))
		return cmd_fail(opts, &err);
	vr_err rc = attach(&c, &err);
	if (!rc)
		rc = take_backup(&c, opts->file, &b, &err);
	backup_free(&b);
	return done(&c, rc, &err);
}

/* ---- erase ----------------------------------------------------------------- */

static bool confirm(struct flash_cmd *c, const char *title, const char *body)
{
	struct engine_confirm q;
	memset(&q, 0, sizeof q);
	snprintf(q.title, sizeof q.title, "%s", title);
	snprintf(q.body, sizeof q.body, "%s", body);
	return hooks_confirm(&c->hooks, &q);
}

int cmd_erase(const struct cli_options *opts)
{
	struct flash_cmd c = {.opts = opts, .name = "erase"};
	struct vr_error err;
	vr_error_clear(&err);
	uint16_t mask = 0;
	vr_err rc = opts->sectors ? parse_sectors(opts->sectors, &mask, &err) : VR_OK;
	if (rc)
		return cmd_fail(opts, &err);
	struct backup b;
	backup_init(&b);
	rc = attach(&c, &err);
	if (!rc)
		rc = take_backup(&c, opts->backup_path, &b, &err);
	char body[600];
	snprintf(body, sizeof body, "%s will be erased. Sectors 1-2 hold the motor and app configuration.\n"
		 "Everything readable is saved in %s.", opts->mass ? "The WHOLE flash" : "The sectors given",
		 b.path);
	if (!rc && !confirm(&c, opts->mass ? "Erase the whole chip" : "Erase sectors", body))
		rc = vr_fail(&err, VR_ERR_CONFIRM, "erase not confirmed (give --yes without a terminal)");
	if (!rc) {
		c.target->cancel = NULL;
		rc = opts->mass ? stm32f4_mass_erase(c.target, &err) : stm32f4_erase_sectors(c.target, mask, &err);
	}
	if (!rc)
		fprintf(stderr, "erased\n");
	backup_free(&b);
	return done(&c, rc, &err);
}

/* ---- write / verify ------------------------------------------------------- */

static vr_err load_for(const struct cli_options *opts, struct image *img, struct vr_error *err)
{
	vr_err rc = image_load(opts->file, IMAGE_FORMAT_AUTO, opts->at, img, err);
	if (rc)
		return rc;
	enum vesc_role wanted = opts->at == 0x080E0000u ? VESC_ROLE_BOOTLOADER :
				opts->at == 0x08000000u ? VESC_ROLE_FIRMWARE : VESC_ROLE_UNKNOWN;
	struct vesc_placement_result res;
	rc = image_check_role(img, wanted, &res, err);
	if (!rc && image_lowest(img) != opts->at && img->format == IMAGE_FORMAT_HEX)
		rc = vr_fail(err, VR_ERR_INPUT, "%s starts at 0x%08X, not at --at 0x%08X", opts->file,
			     image_lowest(img), opts->at);
	return rc;
}

static uint8_t *flatten(const struct image *img, size_t *len)
{
	uint32_t base = image_lowest(img);
	size_t n = (size_t)((image_end(img) - base + 3) & ~3ull);
	uint8_t *buf = malloc(n ? n : 4);
	if (buf)
		image_read_range(img, base, buf, n, 0xFF);
	*len = n;
	return buf;
}

/* The image named on the command line, checked for its address, as one
 * buffer from its lowest address. */
static vr_err load_image_data(const struct cli_options *opts, struct image *img, uint8_t **data, size_t *len,
			      struct vr_error *err)
{
	image_init(img);
	*data = NULL;
	vr_err rc = load_for(opts, img, err);
	if (!rc && !(*data = flatten(img, len)))
		rc = vr_fail(err, VR_ERR_NOMEM, "out of memory");
	if (rc)
		image_free(img);
	return rc;
}

int cmd_write(const struct cli_options *opts)
{
	struct flash_cmd c = {.opts = opts, .name = "write"};
	struct vr_error err;
	vr_error_clear(&err);
	struct image img;
	uint8_t *data;
	size_t len;
	if (load_image_data(opts, &img, &data, &len, &err))
		return cmd_fail(opts, &err);
	struct backup b;
	backup_init(&b);
	vr_err rc = attach(&c, &err);
	if (!rc && opts->force)
		rc = take_backup(&c, opts->backup_path, &b, &err);
	char body[600];
	snprintf(body, sizeof body, "Program %zu bytes of %s at 0x%08X with erase disabled%s.", len, opts->file,
		 image_lowest(&img), opts->force ? " OVER NON-BLANK FLASH (--force)" : " (only blank flash)");
	if (!rc && !confirm(&c, "Write flash", body))
		rc = vr_fail(&err, VR_ERR_CONFIRM, "write not confirmed (give --yes without a terminal)");
	struct stm32f4_write_opts wopts = {.force = opts->force};
	if (!rc)
		rc = image_recheck(&img, &err);
	if (!rc)
		rc = stm32f4_program(c.target, image_lowest(&img), data, len, &wopts, &err);
	uint32_t first = 0;
	if (!rc)
		rc = stm32f4_verify(c.target, image_lowest(&img), data, len, &first, &err);
	if (!rc) {
		fprintf(stderr, "written and verified: %zu bytes at 0x%08X\n", len, image_lowest(&img));
		c.address = image_lowest(&img);
		c.bytes = len;
	}
	if (rc == VR_ERR_CONFIRM && err.msg[0] && strstr(err.msg, "blank"))
		rc = VR_ERR_OPERATION;
	free(data);
	image_free(&img);
	backup_free(&b);
	return done(&c, rc, &err);
}

int cmd_verify(const struct cli_options *opts)
{
	struct flash_cmd c = {.opts = opts, .name = "verify"};
	struct vr_error err;
	vr_error_clear(&err);
	struct image img;
	uint8_t *data;
	size_t len;
	if (load_image_data(opts, &img, &data, &len, &err))
		return cmd_fail(opts, &err);
	vr_err rc = attach(&c, &err);
	/* A release image ends with the crcinfo words still 0xFF; the firmware
	 * fills them on its first boot. Those 8 bytes differing is the sign of
	 * a booted VESC, not of a bad write. */
	size_t compared = len;
	bool crcinfo_blank = image_lowest(&img) == 0x08000000u && len >= 8 &&
			     !memcmp(data + len - 8, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	if (crcinfo_blank)
		compared = len - 8;
	uint32_t first = 0;
	if (!rc)
		rc = stm32f4_verify(c.target, image_lowest(&img), data, compared, &first, &err);
	if (!rc) {
		fprintf(stderr, "verified: %zu bytes at 0x%08X match %s%s\n", compared, image_lowest(&img), opts->file,
			crcinfo_blank ? " (the last 8 bytes, crcinfo, are written by the firmware on its first "
					"boot and are not compared)" : "");
		c.address = image_lowest(&img);
		c.bytes = len;
	}
	free(data);
	image_free(&img);
	return done(&c, rc, &err);
}

/* ---- restore ----------------------------------------------------------------- */

int cmd_restore(const struct cli_options *opts)
{
	struct flash_cmd c = {.opts = opts, .name = "restore"};
	struct vr_error err;
	vr_error_clear(&err);
	uint16_t mask = 0x0FFF;
	vr_err rc = opts->sectors ? parse_sectors(opts->sectors, &mask, &err) : VR_OK;
	struct backup saved, now;
	backup_init(&saved);
	backup_init(&now);
	if (!rc)
		rc = backup_load(&saved, opts->file, &err);
	if (rc) {
		backup_free(&saved);
		return cmd_fail(opts, &err);
	}
	rc = attach(&c, &err);
	if (!rc)
		rc = take_backup(&c, opts->backup_path, &now, &err);
	char body[700];
	snprintf(body, sizeof body, "The sectors given will be erased and written from %s.\n"
		 "What the chip holds now is saved in %s.", opts->file, now.path);
	if (!rc && !confirm(&c, "Restore a backup", body))
		rc = vr_fail(&err, VR_ERR_CONFIRM, "restore not confirmed (give --yes without a terminal)");
	if (!rc)
		rc = stm32f4_erase_sectors(c.target, mask, &err);
	struct stm32f4_write_opts wopts = {.force = false};
	for (unsigned i = 0; !rc && i < F4_SECTORS; i++) {
		if (!(mask & (1u << i)) || saved.sector_blank[i])
			continue;
		uint32_t addr = stm32f4_sector_address(i), size = stm32f4_sector_size(i);
		const uint8_t *bytes = saved.flash + (addr - STM32F4_FLASH_BASE);
		uint32_t first = 0;
		rc = stm32f4_program(c.target, addr, bytes, size, &wopts, &err);
		if (!rc)
			rc = stm32f4_verify(c.target, addr, bytes, size, &first, &err);
	}
	if (!rc)
		fprintf(stderr, "restored from %s and verified\n", opts->file);
	backup_free(&saved);
	backup_free(&now);
	return done(&c, rc, &err);
}
