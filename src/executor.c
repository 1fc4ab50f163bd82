#include "executor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "images/image_tree.h"
#include "session.h"
#include "stm32f4.h"

#define WRITE_BLOCK (64u * 1024u)   /* journal granularity of a write */

/* ---- images ---------------------------------------------------------- */

static vr_err load_image(const char *path, enum vesc_role role, struct image *img, struct vr_error *err)
{
	uint32_t addr = role == VESC_ROLE_BOOTLOADER ? F4_BOOTLOADER_ADDR : F4_FLASH_BASE;
	vr_err rc = image_load(path, IMAGE_FORMAT_AUTO, addr, img, err);
	if (rc)
		return rc;
	struct vesc_placement_result res;
	return image_check_role(img, role, &res, err);
}

static void plan_image_from(const struct image *img, struct plan_image *out)
{
	memset(out, 0, sizeof *out);
	out->present = true;
	out->size = (uint32_t)(image_end(img) - image_lowest(img));
	const char *slash = strrchr(img->path, '/');
	snprintf(out->name, sizeof out->name, "%s", slash ? slash + 1 : img->path);
	out->major = out->minor = -1;
}

static void fill_plan_options(struct executor *x)
{
	const struct cli_options *o = session_options(x->session);
	struct plan_options *p = &x->plan_opts;
	memset(p, 0, sizeof *p);
	/* No image: no version to expect (0 would read as "firmware 0.00"). */
	p->bootloader.major = p->bootloader.minor = -1;
	p->firmware.major = p->firmware.minor = -1;
	p->keep_config = o->keep_config;
	p->restore_config = o->restore_config;
	p->dry_run = o->dry_run;
	p->allow_unprotect = o->allow_unprotect;
	p->force = o->force;
	p->yes = o->yes;
	p->images_dir_given = o->images_dir != NULL;
	snprintf(p->images_note, sizeof p->images_note, "%s", x->images_note);
	snprintf(p->hw_name, sizeof p->hw_name, "%s", o->hw_name ? o->hw_name : "");
	snprintf(p->backup_path, sizeof p->backup_path, "%s",
		 x->backup.path[0] ? x->backup.path : (o->backup_path ? o->backup_path : ""));
	/* Before the backup exists, say where it will go as far as we know:
	 * the directory, and the chip's UID once a survey read it. */
	char dir[200];
	struct vr_error ignored;
	if (!p->backup_path[0] && !backup_dir(dir, sizeof dir, &ignored))
		snprintf(p->backup_path, sizeof p->backup_path, "%s/backup-%s-<time>.bin", dir,
			 x->uid_hex[0] ? x->uid_hex : "<chip UID>");
	if (x->have_bootloader)
		plan_image_from(&x->bootloader, &p->bootloader);
	if (x->have_firmware) {
		plan_image_from(&x->firmware, &p->firmware);
		/* The planner's HW check needs the image's group. */
		snprintf(p->firmware.hw_name, sizeof p->firmware.hw_name, "%s", x->fw_group);
	}
}

vr_err executor_init(struct executor *x, struct session *s, struct vr_error *err)
{
	memset(x, 0, sizeof *x);
	x->session = s;
	x->journal.fd = -1;
	image_init(&x->bootloader);
	image_init(&x->firmware);
	backup_init(&x->backup);
	const struct cli_options *o = session_options(s);
	vr_err rc = o->backup_path ? backup_check_new(o->backup_path, err) : VR_OK;
	if (!rc && o->bootloader_file) {
		rc = load_image(o->bootloader_file, VESC_ROLE_BOOTLOADER, &x->bootloader, err);
		x->have_bootloader = rc == VR_OK;
	}
	if (!rc && o->firmware_file) {
		rc = load_image(o->firmware_file, VESC_ROLE_FIRMWARE, &x->firmware, err);
		x->have_firmware = rc == VR_OK;
	}
	fill_plan_options(x);
	return rc;
}

void executor_free(struct executor *x)
{
	image_free(&x->bootloader);
	image_free(&x->firmware);
	backup_free(&x->backup);
	if (x->journal_open)
		journal_close(&x->journal);
	x->journal_open = false;
}

/* --images DIR: the default firmware and the bootloader for this HW name.
 * Several candidates are listed, never guessed between. */
static void choose_from_tree(struct executor *x, const char *hw, const struct run_hooks *hooks)
{
	const struct cli_options *o = session_options(x->session);
	if (!o->images_dir || (x->have_bootloader && x->have_firmware))
		return;
	if (!hw || !hw[0]) {
		snprintf(x->images_note, sizeof x->images_note, "the board's HW name is unknown (no firmware "
			 "answers to report it), so no image can be chosen from %s", o->images_dir);
		fill_plan_options(x);
		return;
	}
	struct image_tree tree;
	struct vr_error err;
	if (image_tree_scan(o->images_dir, &tree, &err)) {
		snprintf(x->images_note, sizeof x->images_note, "%s", err.msg);
		return;
	}
	struct image_tree_match m;
	image_tree_lookup(&tree, hw, &m);
	if (!x->have_firmware && m.firmware) {
		if (!load_image(m.firmware->path, VESC_ROLE_FIRMWARE, &x->firmware, &err)) {
			x->have_firmware = true;
			snprintf(x->fw_group, sizeof x->fw_group, "%s", m.firmware->group);
			hooks_log(hooks, "images: firmware for HW %s: %s", hw, m.firmware->path);
		} else {
			hooks_log(hooks, "images: %s", err.msg);
		}
	} else if (!x->have_firmware) {
		if (m.n_defaults)
			snprintf(x->images_note, sizeof x->images_note,
				 "%zu firmware images match HW %s", m.n_defaults, hw);
		else
			snprintf(x->images_note, sizeof x->images_note,
				 "no firmware for HW %s in %s", hw, o->images_dir);
		hooks_log(hooks, "images: %s", x->images_note);
	}
	if (!x->have_bootloader && m.bootloader) {
		if (!load_image(m.bootloader->path, VESC_ROLE_BOOTLOADER, &x->bootloader, &err)) {
			x->have_bootloader = true;
			hooks_log(hooks, "images: bootloader for HW %s: %s%s", hw, m.bootloader->path,
				  m.bootloader_is_generic ? " (generic)" : "");
		}
	}
	image_tree_free(&tree);
	fill_plan_options(x);
}

/* ---- journal ----------------------------------------------------------- */

static void journal_event_for(const struct executor *x, const struct plan_step *step, enum step_result result,
			      struct journal_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->kind = JEV_STEP;
	snprintf(ev->uid, sizeof ev->uid, "%s", x->uid_hex);
	ev->step = step->kind;
	ev->path = step->path;
	ev->result = result;
	ev->rung = step->rung;
	ev->role = step->role;
	ev->sectors = step->sectors;
	ev->has_address = step->address != 0;
	ev->address = step->address;
	ev->bytes = step->bytes;
	const struct image *img = step->role == ROLE_BOOTLOADER ? &x->bootloader :
				  step->role == ROLE_FIRMWARE ? &x->firmware : NULL;
	if (img && img->id.known)
		for (int i = 0; i < SHA256_DIGEST_LEN; i++)
			snprintf(ev->sha256 + 2 * i, 3, "%02x", img->id.sha256[i]);
}

static void journal_write(struct executor *x, const struct journal_event *ev, bool sync,
			  const struct run_hooks *hooks)
{
	if (!x->journal_open)
		return;
	struct vr_error err;
	if (journal_append(&x->journal, ev, sync, &err))
		hooks_log(hooks, "journal: %s", err.msg);
}

/* The chip's 96-bit UID: from the SWD survey, or from the firmware's
 * FW_VERSION reply, whose UUID is the same UID (vesc reference §3). */
static const uint8_t *chip_uid(const struct observations *obs)
{
	if (obs->swd.target_found)
		return obs->swd.uid;
	for (unsigned i = 0; i < obs->n_serial; i++)
		if (obs->serial[i].status == SERIAL_VESC && obs->serial[i].fw.has_uuid)
			return obs->serial[i].fw.uuid;
	return NULL;
}

static void open_journal(struct executor *x, const struct observations *obs, const struct run_hooks *hooks)
{
	/* Once per chip: the UID is set when its journal was looked at. */
	const uint8_t *uid = chip_uid(obs);
	if (x->uid_hex[0] || !uid)
		return;
	journal_uid_hex(uid, x->uid_hex);
	char path[512];
	struct vr_error err;
	/* A dry run reads what an earlier run left (to show the resumed plan)
	 * but writes nothing. */
	bool dry_run = session_options(x->session)->dry_run;
	if (journal_default_path(getenv("XDG_STATE_HOME"), getenv("HOME"), x->uid_hex, path, sizeof path, &err) ||
	    (!dry_run && (journal_make_dirs(path, &err) || journal_open(&x->journal, path, &err)))) {
		hooks_log(hooks, "journal: %s (the run goes on without one)", err.msg);
		return;
	}
	x->journal_open = !dry_run;
	struct journal_read_info info;
	struct plan_history earlier;
	memset(&earlier, 0, sizeof earlier);
	if (!journal_read(path, x->uid_hex, &earlier, &info, &err) && !info.ended && earlier.n) {
		x->history = earlier;
		x->history.n_from_journal = earlier.n;
		hooks_log(hooks, "journal: an earlier run of this chip did not finish; %u step(s) on record", earlier.n);
	}
	if (info.note[0])
		hooks_log(hooks, "journal: %s", info.note);
	struct journal_event ev = {.kind = JEV_START};
	snprintf(ev.uid, sizeof ev.uid, "%s", x->uid_hex);
	journal_write(x, &ev, true, hooks);
}

void executor_observed(struct executor *x, const struct observations *obs, const struct run_hooks *hooks)
{
	open_journal(x, obs, hooks);
	const char *hw = session_options(x->session)->hw_name;
	for (unsigned i = 0; (!hw || !hw[0]) && i < obs->n_serial; i++)
		if (obs->serial[i].status == SERIAL_VESC)
			hw = obs->serial[i].fw.hw_name;
	choose_from_tree(x, hw, hooks);
	fill_plan_options(x);
}

/* ---- progress ------------------------------------------------------------ */

struct progress_bridge {
	const struct run_hooks *hooks;
	uint64_t base_done, total;
	const char *what;
};

static void bridge_progress(void *ctx, const struct stm32f4_progress *p)
{
	const struct progress_bridge *b = ctx;
	struct engine_progress out = {.active = true, .eta_s = -1};
	snprintf(out.what, sizeof out.what, "%s", b->what ? b->what : p->what);
	out.elapsed_s = (double)p->elapsed_us / 1e6;
	out.typical_s = (double)p->typical_us / 1e6;
	out.max_s = (double)p->max_us / 1e6;
	out.cancellable = p->typical_us == 0;  /* timed steps are erases */
	if (b->total) {
		out.done = b->base_done + p->done;
		out.total = b->total;
		if (out.elapsed_s > 0.05 && p->done) {
			out.rate_bps = (double)p->done / out.elapsed_s;
			out.eta_s = (double)(out.total - out.done) / out.rate_bps;
		}
	} else if (p->typical_us) {
		out.eta_s = out.typical_s > out.elapsed_s ? out.typical_s - out.elapsed_s : 0;
	}
	hooks_progress(b->hooks, &out);
}

static struct stm32f4 *target_with_hooks(struct executor *x, const struct run_hooks *hooks,
					 struct progress_bridge *bridge)
{
	struct stm32f4 *t = session_target(x->session);
	if (!t)
		return NULL;
	t->progress = bridge_progress;
	t->progress_ctx = bridge;
	t->cancel = hooks ? hooks->cancel : NULL;
	bridge->hooks = hooks;
	return t;
}

/* ---- steps ----------------------------------------------------------------- */

static enum step_result result_of(vr_err rc)
{
	if (rc == VR_OK)
		return STEP_OK;
	if (rc == VR_ERR_INTERRUPTED || rc == VR_ERR_GONE || rc == VR_ERR_TIMEOUT)
		return STEP_INTERRUPTED;
	if (rc == VR_ERR_CONFIRM)
		return STEP_REFUSED;
	return STEP_FAILED;
}

static vr_err need_target(struct executor *x, struct stm32f4 *t, struct vr_error *err)
{
	(void)x;
	return t ? VR_OK : vr_fail(err, VR_ERR_NO_DEVICE, "no SWD target is attached");
}

static vr_err do_backup(struct executor *x, struct observations *obs, const struct run_hooks *hooks,
			struct vr_error *err)
{
	struct progress_bridge bridge = {.what = "reading flash for the backup"};
	struct stm32f4 *t = target_with_hooks(x, hooks, &bridge);
	vr_err rc = need_target(x, t, err);
	if (!rc)
		rc = backup_read_chip(&x->backup, t, &obs->swd, hooks, err);
	char path[512];
	const char *given = session_options(x->session)->backup_path;
	if (!rc && given)
		snprintf(path, sizeof path, "%s", given);
	else if (!rc)
		rc = backup_default_path(obs->swd.uid, path, sizeof path, err);
	if (!rc)
		rc = backup_save(&x->backup, path, &obs->swd, err);
	if (rc)
		return rc;
	hooks_log(hooks, "backup: %s (+ .json), written, synced and read back", path);
	x->history.backup_verified = true;
	snprintf(x->history.backup_path, sizeof x->history.backup_path, "%s", path);
	fill_plan_options(x);
	struct journal_event ev = {.kind = JEV_BACKUP};
	snprintf(ev.uid, sizeof ev.uid, "%s", x->uid_hex);
	snprintf(ev.backup, sizeof ev.backup, "%s", path);
	journal_write(x, &ev, true, hooks);
	return VR_OK;
}

static vr_err do_erase(struct executor *x, const struct plan_step *step, const struct run_hooks *hooks,
		       struct vr_error *err)
{
	struct progress_bridge bridge = {.what = step->kind == STEP_MASS_ERASE ? "mass erase" : "sector erase"};
	struct stm32f4 *t = target_with_hooks(x, hooks, &bridge);
	vr_err rc = need_target(x, t, err);
	if (rc)
		return rc;
	if (step->kind == STEP_MASS_ERASE)
		return stm32f4_mass_erase(t, err);
	return stm32f4_erase_sectors(t, step->sectors, err);
}

/* The words already in flash from an interrupted run are either still
 * blank or equal to the image; programming them again changes nothing.
 * Anything else is a real conflict and stays refused. */
static vr_err resume_is_safe(struct stm32f4 *t, uint32_t addr, const uint8_t *data, size_t len,
			     struct vr_error *err)
{
	uint8_t *now = malloc(len);
	if (!now)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory");
	vr_err rc = stm32f4_read(t, addr, now, len, err);
	for (size_t i = 0; !rc && i < len; i++)
		if (now[i] != 0xFF && now[i] != data[i])
			rc = vr_fail(err, VR_ERR_CONFIRM, "0x%08X holds 0x%02X, the image 0x%02X: not a "
				     "resumable write; erase first or use --force", addr + (unsigned)i, now[i], data[i]);
	free(now);
	return rc;
}

static vr_err program_range(struct executor *x, struct stm32f4 *t, const struct plan_step *step, uint32_t addr,
			    const uint8_t *data, size_t len, uint32_t image_base, struct progress_bridge *bridge,
			    const struct run_hooks *hooks, struct vr_error *err)
{
	const struct cli_options *o = session_options(x->session);
	for (size_t off = 0; off < len; off += WRITE_BLOCK) {
		size_t n = len - off < WRITE_BLOCK ? len - off : WRITE_BLOCK;
		uint32_t at = addr + (uint32_t)off;
		uint32_t image_off = at - image_base;
		if (image_off + n <= step->resume_offset)
			continue;  /* done by an earlier run, journal says */
		bool resumed = image_off < step->resume_offset + WRITE_BLOCK && step->resume_offset > 0;
		struct stm32f4_write_opts wopts = {.force = o->force};
		vr_err rc = VR_OK;
		if (resumed && !o->force) {
			rc = resume_is_safe(t, at, data + off, n, err);
			wopts.force = rc == VR_OK;
		}
		bridge->base_done = image_off;
		if (!rc)
			rc = stm32f4_program(t, at, data + off, n, &wopts, err);
		if (rc)
			return rc;
		struct journal_event ev;
		journal_event_for(x, step, STEP_STARTED, &ev);
		ev.kind = JEV_PROGRESS;
		ev.offset = image_off + (uint32_t)n;
		/* The last block is journaled by the step's end, after the vector
		 * words: a run stopped in between redoes it (equal bytes) and the
		 * vectors, instead of resuming from "all done". */
		if (!x->hold_progress_at || ev.offset < x->hold_progress_at) {
			journal_write(x, &ev, true, hooks);
			x->write_reached = ev.offset;
		}
		if (hooks_cancelled(hooks) && off + n < len)
			return vr_fail(err, VR_ERR_INTERRUPTED, "stopped after 0x%08X on request; a second run "
				       "continues from there", at + (uint32_t)n);
	}
	return VR_OK;
}

/* The image as one buffer from its lowest address, gaps as 0xFF (which the
 * programming skips). */
static uint8_t *image_flat(const struct image *img, uint32_t base, size_t *len)
{
	uint64_t end = image_end(img);
	size_t n = (size_t)((end - base + 3) & ~3ull);
	uint8_t *buf = malloc(n ? n : 4);
	if (buf)
		image_read_range(img, base, buf, n, 0xFF);
	*len = n;
	return buf;
}

/* The firmware's first two words (initial SP, reset vector) are written
 * after everything else. Until then the application has no valid vector
 * table, so a chip left with a partial image (probe yanked, signal,
 * power loss) never boots it: a boot would run the firmware's first-boot
 * code, which burns flag and CRC of the partial image into crcinfo
 * (0x0807FFF0) where the resumed write cannot change them again. */
#define VECTOR_BYTES 8u

static vr_err program_vectors(struct stm32f4 *t, uint32_t base, const uint8_t *vectors, bool force,
			      struct vr_error *err)
{
	struct stm32f4_write_opts wopts = {.force = force};
	vr_err rc = force ? VR_OK : resume_is_safe(t, base, vectors, VECTOR_BYTES, err);
	if (!rc) {
		wopts.force = true;  /* blank or already equal: checked above */
		rc = stm32f4_program(t, base, vectors, VECTOR_BYTES, &wopts, err);
	}
	return rc;
}

static vr_err do_write(struct executor *x, const struct plan_step *step, const struct run_hooks *hooks,
		       struct vr_error *err)
{
	bool is_bl = step->kind == STEP_WRITE_BOOTLOADER;
	const struct image *img = is_bl ? &x->bootloader : &x->firmware;
	if (!(is_bl ? x->have_bootloader : x->have_firmware))
		return vr_fail(err, VR_ERR_USAGE, "no %s image: give --%s FILE", is_bl ? "bootloader" : "firmware",
			       is_bl ? "bootloader" : "firmware");
	/* The file may have changed since it was checked: refuse to write a
	 * different image than the one the confirmation described. */
	vr_err rc = image_recheck(img, err);
	if (rc)
		return rc;
	uint32_t base = is_bl ? F4_BOOTLOADER_ADDR : F4_FLASH_BASE;
	size_t len;
	uint8_t *data = image_flat(img, base, &len);
	if (!data)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory");
	struct progress_bridge bridge = {.what = is_bl ? "programming the bootloader" : "programming the firmware",
					 .total = len};
	struct stm32f4 *t = target_with_hooks(x, hooks, &bridge);
	rc = need_target(x, t, err);
	x->write_reached = step->resume_offset;
	uint8_t vectors[VECTOR_BYTES];
	bool vectors_last = !is_bl && len >= VECTOR_BYTES;
	x->hold_progress_at = vectors_last ? (uint32_t)len : 0;
	if (vectors_last) {
		memcpy(vectors, data, VECTOR_BYTES);
		memset(data, 0xFF, VECTOR_BYTES);  /* 0xFF words are skipped */
	}
	if (!rc && step->skip_config_window && !is_bl) {
		size_t head = F4_CONFIG_START - base;
		size_t tail_at = F4_CONFIG_END - base;
		rc = program_range(x, t, step, base, data, len < head ? len : head, base, &bridge, hooks, err);
		if (!rc && len > tail_at)
			rc = program_range(x, t, step, F4_CONFIG_END, data + tail_at, len - tail_at, base, &bridge,
					   hooks, err);
	} else if (!rc) {
		rc = program_range(x, t, step, base, data, len, base, &bridge, hooks, err);
	}
	if (!rc && vectors_last)
		rc = program_vectors(t, base, vectors, session_options(x->session)->force, err);
	free(data);
	return rc;
}

static vr_err verify_one(struct executor *x, struct stm32f4 *t, const struct image *img, uint32_t base,
			 bool skip_window, const struct run_hooks *hooks, struct vr_error *err)
{
	size_t len;
	uint8_t *data = image_flat(img, base, &len);
	if (!data)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory");
	uint32_t first = 0;
	vr_err rc;
	if (skip_window && base == F4_FLASH_BASE && len > F4_CONFIG_END - base) {
		rc = stm32f4_verify(t, base, data, F4_CONFIG_START - base, &first, err);
		size_t at = F4_CONFIG_END - base;
		if (!rc)
			rc = stm32f4_verify(t, F4_CONFIG_END, data + at, len - at, &first, err);
	} else {
		rc = stm32f4_verify(t, base, data, len, &first, err);
	}
	free(data);
	if (!rc)
		hooks_log(hooks, "verify: %zu bytes at 0x%08X match", len, base);
	return rc;
}

static vr_err do_verify(struct executor *x, const struct plan_step *step, const struct run_hooks *hooks,
			struct vr_error *err)
{
	struct progress_bridge bridge = {.what = "verifying"};
	struct stm32f4 *t = target_with_hooks(x, hooks, &bridge);
	vr_err rc = need_target(x, t, err);
	/* Verify what this plan wrote, as the step's sectors say: an image
	 * given but not written (a bootloader-only path) is not compared with
	 * a firmware that has booted and stored its crcinfo. */
	bool bl = step->role == ROLE_BOOTLOADER || (step->role == ROLE_NONE && (step->sectors & (1u << 11)));
	bool fw = step->role == ROLE_FIRMWARE || (step->role == ROLE_NONE && (step->sectors & 1u));
	if (!rc && x->have_bootloader && bl)
		rc = verify_one(x, t, &x->bootloader, F4_BOOTLOADER_ADDR, false, hooks, err);
	if (!rc && x->have_firmware && fw)
		rc = verify_one(x, t, &x->firmware, F4_FLASH_BASE, step->skip_config_window, hooks, err);
	return rc;
}

static vr_err do_restore_config(struct executor *x, const struct plan_step *step, const struct run_hooks *hooks,
				struct vr_error *err)
{
	if (!x->backup.flash || !x->backup.verified)
		return vr_fail(err, VR_ERR_OPERATION, "no verified backup holds the configuration sectors");
	struct progress_bridge bridge = {.what = "restoring the configuration", .total = F4_CONFIG_END - F4_CONFIG_START};
	struct stm32f4 *t = target_with_hooks(x, hooks, &bridge);
	vr_err rc = need_target(x, t, err);
	if (rc)
		return rc;
	struct stm32f4_write_opts wopts = {.force = false};
	rc = stm32f4_program(t, F4_CONFIG_START, x->backup.flash + (F4_CONFIG_START - F4_FLASH_BASE),
			     F4_CONFIG_END - F4_CONFIG_START, &wopts, err);
	uint32_t first = 0;
	if (!rc)
		rc = stm32f4_verify(t, F4_CONFIG_START, x->backup.flash + (F4_CONFIG_START - F4_FLASH_BASE),
				    F4_CONFIG_END - F4_CONFIG_START, &first, err);
	(void)step;
	return rc;
}

static vr_err do_reset(struct executor *x, const struct run_hooks *hooks, struct vr_error *err)
{
	struct stm32f4 *t = session_target(x->session);
	vr_err rc = need_target(x, t, err);
	if (!rc)
		rc = stm32f4_reset_run(t, err);
	session_release_target(x->session);
	hooks_log(hooks, "target reset and running");
	return rc;
}

static vr_err do_wait_vesc(struct executor *x, const struct plan_step *step, struct observations *obs,
			   const struct run_hooks *hooks, struct vr_error *err)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	unsigned wait_ms = step->wait_ms ? step->wait_ms : PLAN_WAIT_VESC_MS;
	for (unsigned attempt = 1;; attempt++) {
		struct vr_error probe_err;
		session_probe_link(x->session, hooks, obs, &probe_err);
		for (unsigned i = 0; i < obs->n_serial; i++) {
			const struct fw_version *fw = &obs->serial[i].fw;
			if (obs->serial[i].status != SERIAL_VESC)
				continue;
			if (step->expect_major < 0 || (fw->major == step->expect_major && fw->minor == step->expect_minor)) {
				hooks_log(hooks, "the VESC answers: firmware %d.%02d on %s", fw->major, fw->minor,
					  obs->serial[i].port);
				return VR_OK;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		long elapsed_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed_ms >= (long)wait_ms || hooks_cancelled(hooks))
			/* Not an interrupted transfer: the flash is written and
			 * verified, and nothing answers. A person must look. */
			return vr_fail(err, VR_ERR_NO_DEVICE, "the VESC did not answer on USB within %u s after "
				       "the reset (%u probes): check the USB cable and power; the flash was "
				       "written and verified", wait_ms / 1000, attempt);
		struct engine_progress p = {.active = true, .elapsed_s = elapsed_ms / 1000.0,
					    .typical_s = 3, .max_s = wait_ms / 1000.0, .eta_s = -1, .cancellable = true};
		snprintf(p.what, sizeof p.what, "waiting for the VESC on USB");
		hooks_progress(hooks, &p);
		usleep(300 * 1000);
	}
}

static vr_err do_power_cycle(struct executor *x, const struct plan_step *step, struct observations *obs,
			     const struct run_hooks *hooks, struct vr_error *err)
{
	session_release_target(x->session);
	if (!hooks_ask_person(hooks, step->reason[0] ? step->reason :
			      "Remove all power from the VESC (battery and USB), wait 5 s, restore it, then confirm.",
			      600000))
		return vr_fail(err, VR_ERR_CONFIRM, "the power cycle was not confirmed");
	session_power_cycled(x->session);
	struct vr_error ignored;
	session_probe_swd(x->session, hooks, obs, &ignored);
	return VR_OK;
}

static vr_err do_ask_bootloader(struct executor *x, const struct run_hooks *hooks, struct vr_error *err)
{
	struct engine_confirm q;
	memset(&q, 0, sizeof q);
	snprintf(q.title, sizeof q.title, "Is the bootloader missing?");
	snprintf(q.body, sizeof q.body,
		 "After your last firmware update over USB, did the VESC come back with the OLD firmware "
		 "version? That is what a missing bootloader looks like (the update is staged, the jump to "
		 "the bootloader fails, the old firmware boots again).\n\n"
		 "Yes: install the bootloader over USB now (no soldering).\nNo: the bootloader works; nothing to do.");
	q.question = true;
	switch (hooks_ask(hooks, &q)) {
	case HOOK_YES: x->history.bootloader_answer = BL_ANSWER_MISSING; break;
	case HOOK_NO: x->history.bootloader_answer = BL_ANSWER_WORKS; break;
	default: x->history.bootloader_answer = BL_ANSWER_UNKNOWN; break;
	}
	struct journal_event ev = {.kind = JEV_ANSWER, .answer = x->history.bootloader_answer};
	snprintf(ev.uid, sizeof ev.uid, "%s", x->uid_hex);
	journal_write(x, &ev, false, hooks);
	(void)err;
	return VR_OK;
}

static vr_err do_protection(struct executor *x, const struct plan_step *step, const struct run_hooks *hooks,
			    struct vr_error *err)
{
	struct progress_bridge bridge = {.what = step->kind == STEP_RDP_REGRESS ? "RDP regression (chip erases itself)"
										  : "clearing write protection"};
	struct stm32f4 *t = target_with_hooks(x, hooks, &bridge);
	vr_err rc = need_target(x, t, err);
	if (rc)
		return rc;
	return step->kind == STEP_RDP_REGRESS ? stm32f4_rdp_regress(t, err) : stm32f4_wrp_clear(t, err);
}

static vr_err dispatch(struct executor *x, const struct plan_step *step, struct observations *obs,
		       const struct run_hooks *hooks, struct vr_error *err)
{
	switch (step->kind) {
	case STEP_SWD_ATTACH:
	case STEP_SURVEY:
		return session_probe_swd(x->session, hooks, obs, err);
	case STEP_BACKUP: return do_backup(x, obs, hooks, err);
	case STEP_MASS_ERASE:
	case STEP_SECTOR_ERASE: return do_erase(x, step, hooks, err);
	case STEP_WRITE_BOOTLOADER:
	case STEP_WRITE_FIRMWARE: return do_write(x, step, hooks, err);
	case STEP_VERIFY: return do_verify(x, step, hooks, err);
	case STEP_RESTORE_CONFIG: return do_restore_config(x, step, hooks, err);
	case STEP_RESET: return do_reset(x, hooks, err);
	case STEP_WAIT_VESC: return do_wait_vesc(x, step, obs, hooks, err);
	case STEP_POWER_CYCLE: return do_power_cycle(x, step, obs, hooks, err);
	case STEP_ASK_BOOTLOADER: return do_ask_bootloader(x, hooks, err);
	case STEP_RDP_REGRESS:
	case STEP_WRP_CLEAR: return do_protection(x, step, hooks, err);
	case STEP_USB_ERASE_BOOTLOADER:
	case STEP_USB_WRITE_BOOTLOADER: return executor_usb_step(x, step, obs, hooks, err);
	default:
		return vr_fail(err, VR_ERR_INTERNAL, "no executor for step %s", plan_step_kind_name(step->kind));
	}
}

static bool confirmed(const struct executor *x, const struct plan_step *step, const struct run_hooks *hooks)
{
	if (!step->needs_confirm || step->preconfirmed)
		return true;
	struct engine_confirm q;
	memset(&q, 0, sizeof q);
	snprintf(q.title, sizeof q.title, "%s?", step->title);
	snprintf(q.body, sizeof q.body, "%s", step->confirm[0] ? step->confirm : step->reason);
	q.needs_unprotect = step->needs_unprotect;
	(void)x;
	return hooks_confirm(hooks, &q);
}

enum step_result executor_run(struct executor *x, const struct plan_step *step, struct observations *obs,
			      const struct run_hooks *hooks)
{
	struct vr_error err;
	vr_error_clear(&err);
	x->last_error[0] = '\0';
	x->last_rc = VR_OK;
	enum step_result result;
	uint32_t bytes_done = 0;
	hooks_log(hooks, "step: %s — %s", step->title, step->reason);
	if (!confirmed(x, step, hooks)) {
		result = STEP_REFUSED;
		snprintf(x->last_error, sizeof x->last_error, "not confirmed: %s", step->title);
	} else {
		struct journal_event ev;
		if (step->destructive) {
			journal_event_for(x, step, STEP_STARTED, &ev);
			journal_write(x, &ev, true, hooks);
		}
		vr_err rc = dispatch(x, step, obs, hooks, &err);
		x->last_rc = rc;
		result = result_of(rc);
		if (rc) {
			snprintf(x->last_error, sizeof x->last_error, "%s", err.msg);
			hooks_log(hooks, "%s: %s", step->title, err.msg);
		}
		bool is_write = step->kind == STEP_WRITE_BOOTLOADER || step->kind == STEP_WRITE_FIRMWARE;
		/* An unfinished write records how far its journaled blocks got, so
		 * the next run (or the next step of this one) resumes there. */
		if (is_write)
			bytes_done = result == STEP_OK ? step->bytes : x->write_reached;
		journal_event_for(x, step, result, &ev);
		if (is_write && result != STEP_OK)
			ev.offset = bytes_done;
		snprintf(ev.evidence, sizeof ev.evidence, "%s", x->last_error);
		journal_write(x, &ev, step->destructive, hooks);
	}
	struct plan_record rec;
	plan_record_from_step(step, result, bytes_done, &rec);
	plan_history_add(&x->history, &rec);
	if (step->kind == STEP_SWD_ATTACH || step->kind == STEP_SURVEY)
		executor_observed(x, obs, hooks);
	return result;
}

void executor_finish(struct executor *x, const struct plan_decision *d)
{
	struct journal_event ev = {.kind = JEV_END};
	snprintf(ev.uid, sizeof ev.uid, "%s", x->uid_hex);
	snprintf(ev.evidence, sizeof ev.evidence, "%s: %s", plan_outcome_name(d->outcome), d->message);
	journal_write(x, &ev, true, NULL);
}
