/* The rescue planner (issue 5). See planner.h for the caller's loop.
 *
 * How a decision is made:
 *  1. A path already under way (a record of a work path in the history, e.g.
 *     from the journal of an interrupted run) is followed to its end, after
 *     checking that the chip as surveyed now does not contradict it.
 *  2. Otherwise the path is chosen from the observations (decision tree).
 *  3. The path's steps are laid out (a template filled from observations,
 *     options and records), each step's state comes from its record, and the
 *     first step not done is the next one; a failed or refused step ends the
 *     plan with the matching exit status.
 *
 * Safety rules kept here, not left to the caller: no erase without a backup
 * step done before it in the same plan (RDP 1 regression excepted: nothing is
 * readable); no firmware bytes at or beyond sector 11; --keep-config never
 * erases sectors 1-2 nor programs the image inside 0x08004000-0x0800BFFF. */
#include "planner.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "verdict.h"
#include "text.h"

#define ALL_SECTORS 0x0fffu
#define CONFIG_SECTORS ((1u << 1) | (1u << 2))
#define APP_ERASE_SECTORS ((1u << 0) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 7))
#define STAGING_SECTORS ((1u << 8) | (1u << 9) | (1u << 10))
#define BL_SECTOR (1u << 11)
#define APP_REGION_MAX 0x80000u          /* sectors 0-7: 512 KiB */
#define CONFIG_WINDOW (F4_CONFIG_END - F4_CONFIG_START)
#define FW_USB_ERASE_BL_MIN 359          /* COMM_ERASE_BOOTLOADER exists from 3.59 */

/* ---- names ------------------------------------------------------------- */

static const char *const step_names[STEP_KIND_COUNT_] = {
	[STEP_NONE] = "none", [STEP_SWD_ATTACH] = "swd-attach", [STEP_SURVEY] = "survey",
	[STEP_BACKUP] = "backup", [STEP_RDP_REGRESS] = "rdp-regress",
	[STEP_POWER_CYCLE] = "power-cycle", [STEP_WRP_CLEAR] = "wrp-clear",
	[STEP_MASS_ERASE] = "mass-erase", [STEP_SECTOR_ERASE] = "sector-erase",
	[STEP_WRITE_BOOTLOADER] = "write-bootloader", [STEP_WRITE_FIRMWARE] = "write-firmware",
	[STEP_VERIFY] = "verify", [STEP_RESTORE_CONFIG] = "restore-config", [STEP_RESET] = "reset",
	[STEP_WAIT_VESC] = "wait-vesc", [STEP_ASK_BOOTLOADER] = "ask-bootloader",
	[STEP_USB_ERASE_BOOTLOADER] = "usb-erase-bootloader",
	[STEP_USB_WRITE_BOOTLOADER] = "usb-write-bootloader",
};

static const char *const path_names[PATH_COUNT_] = {
	[PATH_NONE] = "none", [PATH_DIAGNOSE] = "diagnose", [PATH_HEALTHY] = "healthy",
	[PATH_USB_BOOTLOADER] = "usb-bootloader", [PATH_CANONICAL] = "canonical",
	[PATH_KEEP_CONFIG] = "keep-config", [PATH_FIRMWARE_ONLY] = "firmware-only",
	[PATH_BOOTLOADER_ONLY] = "bootloader-only", [PATH_RESTART] = "restart",
	[PATH_UNPROTECT] = "unprotect",
};

static const char *const result_names[STEP_RESULT_COUNT_] = {
	[STEP_RESULT_NONE] = "none", [STEP_OK] = "ok", [STEP_FAILED] = "failed",
	[STEP_INTERRUPTED] = "interrupted", [STEP_STARTED] = "started", [STEP_REFUSED] = "refused",
};

static const char *const outcome_names[PLAN_OUTCOME_COUNT_] = {
	[PLAN_CONTINUE] = "continue", [PLAN_HEALTHY] = "healthy", [PLAN_RECOVERED] = "recovered",
	[PLAN_NEEDS_PERSON] = "needs-person", [PLAN_UNRECOVERABLE] = "unrecoverable",
	[PLAN_FAILED] = "failed",
};

static const char *const role_names[] = {
	[ROLE_NONE] = "none", [ROLE_BOOTLOADER] = "bootloader", [ROLE_FIRMWARE] = "firmware",
	[ROLE_BACKUP] = "backup",
};

static const char *const state_names[] = {
	[PSTATE_PENDING] = "pending", [PSTATE_CURRENT] = "current", [PSTATE_DONE] = "done",
	[PSTATE_FAILED] = "failed", [PSTATE_SKIPPED] = "skipped",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_at(const char *const *names, size_t n, unsigned i)
{
	return (i < n && names[i]) ? names[i] : "unknown";
}

static int index_of(const char *const *names, size_t n, const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

const char *plan_step_kind_name(enum plan_step_kind k) { return name_at(step_names, COUNT(step_names), k); }
const char *plan_path_name(enum plan_path p) { return name_at(path_names, COUNT(path_names), p); }
const char *plan_outcome_name(enum plan_outcome o) { return name_at(outcome_names, COUNT(outcome_names), o); }
const char *plan_state_name(enum plan_state s) { return name_at(state_names, COUNT(state_names), s); }
const char *step_result_name(enum step_result r) { return name_at(result_names, COUNT(result_names), r); }
const char *image_role_name(enum image_role r) { return name_at(role_names, COUNT(role_names), r); }

enum plan_step_kind plan_step_kind_from_name(const char *name)
{
	int i = index_of(step_names, COUNT(step_names), name);
	return i < 0 ? STEP_NONE : (enum plan_step_kind)i;
}

enum plan_path plan_path_from_name(const char *name)
{
	int i = index_of(path_names, COUNT(path_names), name);
	return i < 0 ? PATH_NONE : (enum plan_path)i;
}

enum step_result step_result_from_name(const char *name)
{
	int i = index_of(result_names, COUNT(result_names), name);
	return i < 0 ? STEP_RESULT_NONE : (enum step_result)i;
}

enum image_role image_role_from_name(const char *name)
{
	int i = index_of(role_names, COUNT(role_names), name);
	return i < 0 ? ROLE_NONE : (enum image_role)i;
}

/* ---- small helpers ------------------------------------------------------ */


static uint32_t sector_address(unsigned i)
{
	if (i < 4)
		return F4_FLASH_BASE + i * 0x4000u;
	if (i == 4)
		return F4_FLASH_BASE + 0x10000u;
	return F4_FLASH_BASE + 0x20000u * (i - 4);
}

static uint32_t sector_size(unsigned i)
{
	return i < 4 ? 0x4000u : i == 4 ? 0x10000u : 0x20000u;
}

static uint32_t sectors_bytes(uint16_t mask)
{
	uint32_t total = 0;
	for (unsigned i = 0; i < F4_SECTORS; i++)
		if (mask & (1u << i))
			total += sector_size(i);
	return total;
}

/* Sectors touched by [addr, addr + len). */
static uint16_t sectors_of_range(uint32_t addr, uint32_t len)
{
	uint16_t mask = 0;
	if (len == 0)
		return 0;
	for (unsigned i = 0; i < F4_SECTORS; i++) {
		uint32_t lo = sector_address(i), hi = lo + sector_size(i);
		if (addr < hi && addr + len > lo)
			mask |= (uint16_t)(1u << i);
	}
	return mask;
}

/* "0, 3-7, 11" */
static void format_sectors(uint16_t mask, char *out, size_t cap)
{
	out[0] = '\0';
	for (unsigned i = 0; i < F4_SECTORS; i++) {
		if (!(mask & (1u << i)))
			continue;
		unsigned j = i;
		while (j + 1 < F4_SECTORS && (mask & (1u << (j + 1))))
			j++;
		if (j > i)
			text_append(out, cap, "%s%u-%u", out[0] ? ", " : "", i, j);
		else
			text_append(out, cap, "%s%u", out[0] ? ", " : "", i);
		i = j;
	}
}

static bool sector_is_blank(const struct swd_obs *swd, unsigned i)
{
	return swd->sectors[i].blank || swd->sectors[i].state == SECTOR_BLANK;
}

static uint16_t nonblank_sectors(const struct swd_obs *swd)
{
	uint16_t mask = 0;
	for (unsigned i = 0; i < F4_SECTORS; i++)
		if (!sector_is_blank(swd, i))
			mask |= (uint16_t)(1u << i);
	return mask;
}

static uint16_t protected_sectors(const struct swd_obs *swd)
{
	/* OPTCR is never 0 on a real chip (RDP reads 0xAA at level 0): 0 means
	 * it was not read, and then nothing is known to be protected. */
	if (swd->optcr == 0)
		return 0;
	return (uint16_t)(~swd->nwrp & ALL_SECTORS);
}

static bool hw_group_matches(const char *group, const char *hw)
{
	/* Image groups join HW names with "_o_" (reference §6). */
	const char *p = group;
	size_t hw_len = strlen(hw);
	while (*p) {
		const char *sep = strstr(p, "_o_");
		size_t len = sep ? (size_t)(sep - p) : strlen(p);
		if (len == hw_len && strncasecmp(p, hw, len) == 0)
			return true;
		if (!sep)
			break;
		p = sep + 3;
	}
	return false;
}

/* ---- history ------------------------------------------------------------ */

void plan_history_add(struct plan_history *hist, const struct plan_record *rec)
{
	if (hist->n >= PLAN_MAX_RECORDS) {
		memmove(&hist->rec[0], &hist->rec[1], sizeof hist->rec[0] * (PLAN_MAX_RECORDS - 1));
		hist->n = PLAN_MAX_RECORDS - 1;
		if (hist->n_from_journal > 0)
			hist->n_from_journal--;
	}
	hist->rec[hist->n++] = *rec;
}

void plan_record_from_step(const struct plan_step *step, enum step_result result,
			   uint32_t bytes_done, struct plan_record *rec)
{
	memset(rec, 0, sizeof *rec);
	rec->kind = step->kind;
	rec->path = step->path;
	rec->result = result;
	rec->rung = step->rung;
	rec->role = step->role;
	rec->sectors = step->sectors;
	rec->bytes_done = bytes_done;
}

static unsigned hist_count(const struct plan_history *hist)
{
	return hist->n < PLAN_MAX_RECORDS ? hist->n : PLAN_MAX_RECORDS;
}

/* A refusal from an earlier run does not bind this one: the person may be
 * at the bench now. */
static bool record_usable(const struct plan_history *hist, unsigned i)
{
	return !(hist->rec[i].result == STEP_REFUSED && i < hist->n_from_journal);
}

/* The latest record of (path, kind, role) in [from, to). */
static const struct plan_record *find_record_in(const struct plan_history *hist, unsigned from,
						unsigned to, enum plan_path path,
						enum plan_step_kind kind, enum image_role role)
{
	if (to > hist_count(hist))
		to = hist_count(hist);
	for (unsigned i = to; i-- > from;) {
		const struct plan_record *r = &hist->rec[i];
		if (r->path == path && r->kind == kind && r->role == role && record_usable(hist, i))
			return r;
	}
	return NULL;
}

/* The latest record of (path, kind, role) at or after index `from`. */
static const struct plan_record *find_record(const struct plan_history *hist, unsigned from,
					     enum plan_path path, enum plan_step_kind kind,
					     enum image_role role)
{
	for (unsigned i = hist_count(hist); i-- > from;) {
		const struct plan_record *r = &hist->rec[i];
		if (r->path == path && r->kind == kind && r->role == role && record_usable(hist, i))
			return r;
	}
	return NULL;
}

static bool is_work_path(enum plan_path p)
{
	return p == PATH_USB_BOOTLOADER || p == PATH_CANONICAL || p == PATH_KEEP_CONFIG ||
	       p == PATH_FIRMWARE_ONLY || p == PATH_BOOTLOADER_ONLY || p == PATH_RESTART ||
	       p == PATH_UNPROTECT;
}

static bool is_write_kind(enum plan_step_kind k)
{
	return k == STEP_WRITE_BOOTLOADER || k == STEP_WRITE_FIRMWARE || k == STEP_RESTORE_CONFIG ||
	       k == STEP_USB_WRITE_BOOTLOADER;
}

static bool is_erase_kind(enum plan_step_kind k)
{
	return k == STEP_MASS_ERASE || k == STEP_SECTOR_ERASE || k == STEP_USB_ERASE_BOOTLOADER;
}

/* Sectors that finished writes (any path) have filled: an erase over them
 * destroys finished work and must be asked for even with --yes. */
static uint16_t finished_write_sectors(const struct plan_history *hist)
{
	uint16_t mask = 0;
	for (unsigned i = 0; i < hist_count(hist); i++) {
		const struct plan_record *r = &hist->rec[i];
		if (r->result == STEP_OK && is_write_kind(r->kind) && r->kind != STEP_USB_WRITE_BOOTLOADER)
			mask |= r->sectors;
	}
	return mask;
}

/* ---- the planning context ----------------------------------------------- */

struct ctx {
	const struct observations *obs;
	const struct plan_options *opts;
	const struct plan_history *hist;  /* what the plan trusts (may be empty) */
	const struct plan_history *given; /* everything the caller gave */
	struct plan_history trusted;      /* this run's records when the journal is not trusted */
	struct plan *plan;
	unsigned path_from;               /* records of the active path start here */
	bool resumed;                     /* every record of the path is from the journal */
};

static struct plan_decision *decision(struct ctx *c)
{
	return &c->plan->decision;
}

__attribute__((format(printf, 4, 5)))
static void finish(struct ctx *c, enum plan_outcome outcome, int exit_status, const char *fmt, ...)
{
	struct plan_decision *d = decision(c);
	d->outcome = outcome;
	d->exit_status = exit_status;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->message, sizeof d->message, fmt, ap);
	va_end(ap);
	c->plan->current = -1;
}

static void note(struct ctx *c, const char *text)
{
	struct plan_decision *d = decision(c);
	text_append(d->note, sizeof d->note, "%s%s", d->note[0] ? " " : "", text);
}

static struct plan_step *add_step(struct ctx *c, enum plan_step_kind kind, const char *title)
{
	struct plan *p = c->plan;
	if (p->n >= PLAN_MAX_STEPS)
		return NULL;
	struct plan_entry *e = &p->steps[p->n++];
	memset(e, 0, sizeof *e);
	e->step.kind = kind;
	e->step.path = p->path;
	e->step.expect_major = -1;
	e->step.expect_minor = -1;
	text_put(e->step.title, sizeof e->step.title, "%s", title);
	return &e->step;
}

static void skip_last(struct ctx *c, const char *why)
{
	struct plan_entry *e = &c->plan->steps[c->plan->n - 1];
	e->state = PSTATE_SKIPPED;
	text_put(e->step.reason, sizeof e->step.reason, "%s", why);
}

static const char *backup_where(const struct ctx *c)
{
	if (c->opts->backup_path[0])
		return c->opts->backup_path;
	if (c->given->backup_path[0])
		return c->given->backup_path;
	return "$XDG_STATE_HOME/vesc-rescue/backup-<UID>-<time>.bin";
}

static const char *hw_of_vesc(const struct ctx *c)
{
	int idx = verdict_answering_port(c->obs);
	if (idx >= 0 && c->obs->serial[idx].fw.hw_name[0])
		return c->obs->serial[idx].fw.hw_name;
	return c->opts->hw_name;
}

static void hw_caveat(const struct ctx *c, const struct plan_image *img, char *out, size_t cap)
{
	const char *hw = hw_of_vesc(c);
	if (!img->hw_name[0] || !hw[0])
		text_append(out, cap, " HW of this image unknown: make sure it is the image for your board "
		       "(a wrong-HW image can damage the hardware).");
}

/* ---- images -------------------------------------------------------------- */

/* Has this path already changed the flash (in this run or a journaled one)? */
static bool path_started(const struct ctx *c)
{
	for (unsigned i = c->path_from; i < hist_count(c->hist); i++) {
		const struct plan_record *r = &c->hist->rec[i];
		bool changes = is_write_kind(r->kind) || is_erase_kind(r->kind) ||
			       r->kind == STEP_RDP_REGRESS || r->kind == STEP_WRP_CLEAR;
		if (r->path == c->plan->path && changes && r->result != STEP_REFUSED &&
		    record_usable(c->hist, i))
			return true;
	}
	return false;
}

static const char *changed_text(const struct ctx *c)
{
	return path_started(c) ? "Earlier steps already changed the flash (the journal has them): "
				 "give the image to finish." : "Nothing was changed.";
}

static bool check_firmware_image(struct ctx *c)
{
	const struct plan_image *fw = &c->opts->firmware;
	if (!fw->present && c->opts->images_dir_given) {
		finish(c, PLAN_NEEDS_PERSON, VR_EXIT_INPUT, "--images gave no firmware image: %s. Choose one "
		       "with --firmware FILE, or name the board with --hw. %s",
		       c->opts->images_note[0] ? c->opts->images_note : "none matches this VESC's HW name",
		       changed_text(c));
		return false;
	}
	if (!fw->present) {
		finish(c, PLAN_NEEDS_PERSON, VR_EXIT_USAGE, "The recovery needs a firmware image: give "
		       "--firmware FILE (VESC_default.bin for your HW) or --images DIR (VESC Tool's "
		       "res/firmwares tree or the firmware archive). %s", changed_text(c));
		return false;
	}
	if (fw->size == 0 || fw->size > APP_REGION_MAX) {
		finish(c, PLAN_NEEDS_PERSON, VR_EXIT_INPUT, "%s is %u bytes: a VESC firmware image is "
		       "at most 512 KiB (524,280 bytes for 6.x, 393,208 for 5.x) and would otherwise "
		       "overlap the staging area or the bootloader in sector 11. %s",
		       fw->name, (unsigned)fw->size, changed_text(c));
		return false;
	}
	/* The HW check gates the first change only: once the image is written
	 * the VESC itself reports a HW, and a mismatch then is an outcome
	 * (success_outcome), not a reason to stop half way. */
	const char *hw = hw_of_vesc(c);
	if (fw->hw_name[0] && hw[0] && !hw_group_matches(fw->hw_name, hw) && !c->opts->force &&
	    !path_started(c)) {
		finish(c, PLAN_NEEDS_PERSON, VR_EXIT_INPUT, "%s is built for HW %s but this VESC is HW "
		       "%s: a wrong-HW firmware can damage the hardware. Choose the image of your HW "
		       "(or --force if you are sure). Nothing was changed.", fw->name, fw->hw_name, hw);
		return false;
	}
	return true;
}

static bool check_bootloader_image(struct ctx *c)
{
	const struct plan_image *bl = &c->opts->bootloader;
	if (!bl->present && c->opts->images_dir_given) {
		finish(c, PLAN_NEEDS_PERSON, VR_EXIT_INPUT, "--images gave no bootloader image: %s. Give "
		       "--bootloader FILE, or name the board with --hw. %s",
		       c->opts->images_note[0] ? c->opts->images_note
					       : "neither a file named for this HW nor generic.bin", changed_text(c));
		return false;
	}
	if (!bl->present) {
		finish(c, PLAN_NEEDS_PERSON, VR_EXIT_USAGE, "The recovery needs a bootloader image: "
		       "give --bootloader FILE (VESC Tool's res/bootloaders/generic.bin, or the file "
		       "whose name holds your HW) or --images DIR. %s", changed_text(c));
		return false;
	}
	if (bl->size == 0 || bl->size > F4_BOOTLOADER_MAX) {
		finish(c, PLAN_NEEDS_PERSON, VR_EXIT_INPUT, "%s is %u bytes: a bootloader fits sector "
		       "11 (at most 128 KiB; released ones are 3,792 to 5,776 bytes). %s", bl->name,
		       (unsigned)bl->size, changed_text(c));
		return false;
	}
	return true;
}

/* ---- step builders -------------------------------------------------------- */

static void step_backup(struct ctx *c, uint16_t sectors)
{
	struct plan_step *s = add_step(c, STEP_BACKUP, "Back up the flash");
	if (!s)
		return;
	s->role = ROLE_BACKUP;
	s->sectors = sectors;
	s->bytes = sectors_bytes(sectors);
	char list[64];
	format_sectors(sectors, list, sizeof list);
	text_put(s->reason, sizeof s->reason, "Read every non-blank sector (%s, %u bytes) into %s with a "
	    "manifest, and check it, before anything is erased.", list, (unsigned)s->bytes,
	    backup_where(c));
	if (sectors == 0)
		skip_last(c, "Nothing to save: every sector is blank.");
}

static void step_wrp_clear(struct ctx *c, uint16_t sectors)
{
	struct plan_step *s = add_step(c, STEP_WRP_CLEAR, "Clear write protection");
	if (!s)
		return;
	char list[64];
	format_sectors(sectors, list, sizeof list);
	s->sectors = sectors;
	s->needs_confirm = true;
	s->needs_unprotect = true;
	text_put(s->reason, sizeof s->reason, "Sectors %s are write protected (option bytes nWRP): erase "
	    "and write would fail with WRPERR.", list);
	text_put(s->confirm, sizeof s->confirm, "Clear the write protection of sectors %s? This rewrites "
	    "the option bytes; it erases nothing by itself.", list);
}

static void step_write(struct ctx *c, enum plan_step_kind kind, bool skip_window)
{
	bool bl = kind == STEP_WRITE_BOOTLOADER;
	const struct plan_image *img = bl ? &c->opts->bootloader : &c->opts->firmware;
	struct plan_step *s = add_step(c, kind, bl ? "Write the bootloader" : "Write the firmware");
	if (!s)
		return;
	s->role = bl ? ROLE_BOOTLOADER : ROLE_FIRMWARE;
	s->address = bl ? F4_BOOTLOADER_ADDR : F4_FLASH_BASE;
	s->sectors = sectors_of_range(s->address, img->size);
	s->skip_config_window = !bl && skip_window;
	s->bytes = img->size;
	if (s->skip_config_window) {
		s->sectors &= (uint16_t)~CONFIG_SECTORS;
		if (img->size > CONFIG_WINDOW + (F4_CONFIG_START - F4_FLASH_BASE))
			s->bytes = img->size - CONFIG_WINDOW;
		else if (img->size > F4_CONFIG_START - F4_FLASH_BASE)
			s->bytes = F4_CONFIG_START - F4_FLASH_BASE;
	}
	text_put(s->reason, sizeof s->reason, "Program %s (%u bytes) at 0x%08X, erase disabled: words "
	    "that are 0xFF in the image are skipped%s.", img->name[0] ? img->name : "the image",
	    (unsigned)img->size, (unsigned)s->address,
	    s->skip_config_window ? "; the configuration window 0x08004000-0x0800BFFF is left alone" : "");
}

static void step_verify(struct ctx *c, bool bl, bool fw, bool skip_window)
{
	struct plan_step *s = add_step(c, STEP_VERIFY, "Verify what was written");
	if (!s)
		return;
	if (bl)
		s->bytes += c->opts->bootloader.size, s->sectors |= BL_SECTOR;
	if (fw) {
		uint32_t n = c->opts->firmware.size;
		s->bytes += skip_window && n > F4_CONFIG_END - F4_FLASH_BASE ? n - CONFIG_WINDOW : n;
		s->sectors |= sectors_of_range(F4_FLASH_BASE, n);
		s->skip_config_window = skip_window;
		if (skip_window)
			s->sectors &= (uint16_t)~CONFIG_SECTORS;
	}
	text_put(s->reason, sizeof s->reason, "Compare the flash with the image%s (CRC per sector on the "
	    "target) so a bad write is caught before the reset.", bl && fw ? "s" : "");
}

static void step_reset_and_wait(struct ctx *c)
{
	struct plan_step *s = add_step(c, STEP_RESET, "Reset and run");
	if (s)
		text_put(s->reason, sizeof s->reason, "Release the core so the firmware starts; on its first "
		    "boot it stores its CRC and resets itself once.");
	s = add_step(c, STEP_WAIT_VESC, "Wait for the VESC on USB");
	if (!s)
		return;
	s->wait_ms = PLAN_WAIT_VESC_MS;
	/* Expect a version only when the image's is fully known: a path that
	 * did not write the firmware accepts whatever answers. */
	bool wrote_fw = c->plan->path == PATH_CANONICAL || c->plan->path == PATH_KEEP_CONFIG ||
			c->plan->path == PATH_FIRMWARE_ONLY;
	if (wrote_fw && c->opts->firmware.major >= 0 && c->opts->firmware.minor >= 0) {
		s->expect_major = c->opts->firmware.major;
		s->expect_minor = c->opts->firmware.minor;
	}
	if (s->expect_major >= 0)
		text_put(s->reason, sizeof s->reason, "Probe USB until firmware %d.%02d answers (at most %u "
		    "s: USB comes up about 1.5 s after boot, after one self-reset).", s->expect_major,
		    s->expect_minor < 0 ? 0 : s->expect_minor, s->wait_ms / 1000);
	else
		text_put(s->reason, sizeof s->reason, "Probe USB until the VESC answers (at most %u s: USB "
		    "comes up about 1.5 s after boot, after one self-reset).", s->wait_ms / 1000);
}

/* ---- confirmation texts ------------------------------------------------------ */

static void lost_config_text(const struct ctx *c, bool config_nonblank, char *out, size_t cap)
{
	if (!config_nonblank)
		return;
	if (c->opts->restore_config)
		text_append(out, cap, " The motor and app configuration (sectors 1-2) is erased and then "
		       "written back from the backup.");
	else
		text_append(out, cap, " The motor and app configuration (sectors 1-2) is lost: it comes back "
		       "as defaults (it stays in the backup; --keep-config avoids this).");
}

static void confirm_mass_erase(struct ctx *c, struct plan_step *s, uint16_t nonblank)
{
	text_put(s->confirm, sizeof s->confirm, "Erase the whole flash (1 MiB, all 12 sectors): the "
	    "firmware and the bootloader.");
	lost_config_text(c, (nonblank & CONFIG_SECTORS) != 0, s->confirm, sizeof s->confirm);
	if (nonblank & STAGING_SECTORS)
		text_append(s->confirm, sizeof s->confirm, " Sectors 8-10 (staged update, Lisp/QML data) are "
		       "erased too.");
	text_append(s->confirm, sizeof s->confirm, " Then write %s at 0x080E0000 and %s at 0x08000000. "
	       "Backup: %s.", c->opts->bootloader.name, c->opts->firmware.name, backup_where(c));
	hw_caveat(c, &c->opts->firmware, s->confirm, sizeof s->confirm);
}

static void confirm_sector_erase(struct ctx *c, struct plan_step *s)
{
	char list[64];
	format_sectors(s->sectors, list, sizeof list);
	text_put(s->confirm, sizeof s->confirm, "Erase sectors %s%s. Sectors 1-2 (motor and app "
	    "configuration) are kept and the image is not written there. Backup: %s.", list,
	    (s->sectors & BL_SECTOR) ? " (application and bootloader)" : " (application)",
	    backup_where(c));
	if (s->sectors & APP_ERASE_SECTORS)
		hw_caveat(c, &c->opts->firmware, s->confirm, sizeof s->confirm);
}

/* The first step of a path that changes flash carries the confirmation for
 * the whole path; later ones ride on it. On a resume the next step asks
 * again, since the person confirmed in another run. */
static void mark_gate(struct ctx *c, struct plan_step *s)
{
	s->destructive = is_erase_kind(s->kind) || s->kind == STEP_RDP_REGRESS;
	s->needs_confirm = true;
	if (!s->confirm[0])
		text_put(s->confirm, sizeof s->confirm, "%s", s->reason);
}

/* ---- paths -------------------------------------------------------------------- */

static void lay_out_unprotect(struct ctx *c)
{
	struct plan_step *s = add_step(c, STEP_RDP_REGRESS, "Remove read protection (RDP 1 -> 0)");
	if (s) {
		s->sectors = ALL_SECTORS;
		s->bytes = 1024u * 1024u;
		s->needs_unprotect = true;
		text_put(s->reason, sizeof s->reason, "The flash is read protected (RDP level 1): it cannot "
		    "be read, erased or written over SWD until the protection is removed.");
		text_put(s->confirm, sizeof s->confirm, "Remove the read protection? The chip then erases ALL "
		    "its flash by itself: firmware, bootloader, motor and app configuration. Nothing "
		    "can be backed up first: under RDP 1 the flash cannot be read over SWD. Afterwards "
		    "the VESC must be power cycled.");
		mark_gate(c, s);
	}
	s = add_step(c, STEP_POWER_CYCLE, "Power cycle the VESC");
	if (s) {
		s->person_action = true;
		text_put(s->reason, sizeof s->reason, "Option bytes take effect after a power cycle: "
		    "disconnect the VESC's power (battery and USB) for a few seconds, then reconnect.");
	}
	s = add_step(c, STEP_SURVEY, "Survey the flash again");
	if (s)
		text_put(s->reason, sizeof s->reason, "Check that the protection is gone and the flash is "
		    "blank before writing.");
}

static void lay_out_restart(struct ctx *c)
{
	note(c, "The flash looks intact (application CRC good, bootloader present); a reset may be "
	     "all it needs.");
	step_reset_and_wait(c);
}

/* USB path: reference §4.6, VESC Tool's bootloader upload. */
static void lay_out_usb_bootloader(struct ctx *c)
{
	int idx = verdict_answering_port(c->obs);
	const struct fw_version *fw = idx >= 0 ? &c->obs->serial[idx].fw : NULL;
	int version = fw ? fw->major * 100 + fw->minor : 0;
	const struct plan_image *bl = &c->opts->bootloader;
	const struct plan_record *r = find_record(c->hist, c->path_from, PATH_USB_BOOTLOADER,
						  STEP_USB_ERASE_BOOTLOADER, ROLE_NONE);
	bool can_erase = version >= FW_USB_ERASE_BL_MIN || r;
	struct plan_step *s;
	if (can_erase) {
		s = add_step(c, STEP_USB_ERASE_BOOTLOADER, "Erase the bootloader sector over USB");
		if (s) {
			s->sectors = BL_SECTOR;
			s->bytes = sector_size(11);
			text_put(s->reason, sizeof s->reason, "COMM_ERASE_BOOTLOADER erases sector 11 so the "
			    "new bootloader can be written (the firmware answers within 20 s).");
			text_put(s->confirm, sizeof s->confirm, "Erase sector 11 over USB and write %s (%u "
			    "bytes) there? Sector 11 holds the bootloader (on FW 7.x also package NVM "
			    "data); you said the old firmware came back after an update, so the "
			    "bootloader is missing. USB cannot back it up or read it back.",
			    bl->name, (unsigned)bl->size);
			mark_gate(c, s);
		}
	}
	s = add_step(c, STEP_USB_WRITE_BOOTLOADER, "Write the bootloader over USB");
	if (!s)
		return;
	s->role = ROLE_BOOTLOADER;
	s->address = F4_BOOTLOADER_ADDR;
	s->sectors = BL_SECTOR;
	s->bytes = bl->size;
	text_put(s->reason, sizeof s->reason, "COMM_WRITE_NEW_APP_DATA in 384-byte chunks from offset "
	    "0x%X (= 0x080E0000), checking every reply and its echoed offset.",
	    (unsigned)USB_BOOTLOADER_OFFSET);
	if (!can_erase) {
		text_put(s->confirm, sizeof s->confirm, "Write %s (%u bytes) into sector 11 over USB? "
		    "Firmware %d.%02d cannot erase the sector first (COMM_ERASE_BOOTLOADER needs "
		    "3.59): writing over an existing bootloader can break it. Go on only because "
		    "the old firmware came back after an update (bootloader missing).", bl->name,
		    (unsigned)bl->size, fw ? fw->major : 0, fw ? fw->minor : 0);
		mark_gate(c, s);
	}
}

static bool bootloader_needs_writing(const struct ctx *c)
{
	const struct swd_obs *swd = &c->obs->swd;
	if (!swd->bootloader.present)
		return true;
	/* Only a bootloader with compression support installs FW >= 6.00
	 * (reference §4.5, bldc#615). */
	return swd->bootloader.kind == BL_KIND_OLD && c->opts->firmware.major >= 6 &&
	       c->opts->bootloader.present;
}

/* Bootloader only: the application is fine. */
static void lay_out_bootloader_only(struct ctx *c)
{
	const struct swd_obs *swd = &c->obs->swd;
	const struct plan_record *er = find_record(c->hist, c->path_from, PATH_BOOTLOADER_ONLY,
						   STEP_SECTOR_ERASE, ROLE_NONE);
	bool s11_dirty = er || !sector_is_blank(swd, 11);
	struct plan_step *s;
	if (s11_dirty) {
		step_backup(c, nonblank_sectors(swd));
		uint16_t prot = protected_sectors(swd) & BL_SECTOR;
		if (prot)
			step_wrp_clear(c, prot);
		s = add_step(c, STEP_SECTOR_ERASE, "Erase sector 11");
		if (s) {
			s->sectors = BL_SECTOR;
			s->bytes = sector_size(11);
			text_put(s->reason, sizeof s->reason, "Sector 11 holds %s: it must be blank before "
			    "the bootloader is written.", swd->bootloader.present ?
			    "an old bootloader that cannot install FW 6.x" : "data that is not a VESC bootloader");
			text_put(s->confirm, sizeof s->confirm, "Erase sector 11 (0x080E0000, 128 KiB) and "
			    "write %s there? The application and the configuration are not touched. "
			    "Backup: %s.", c->opts->bootloader.name, backup_where(c));
			mark_gate(c, s);
		}
	} else if (protected_sectors(swd) & BL_SECTOR) {
		step_wrp_clear(c, BL_SECTOR);
	}
	step_write(c, STEP_WRITE_BOOTLOADER, false);
	if (!s11_dirty && c->plan->n > 0) {
		s = &c->plan->steps[c->plan->n - 1].step;
		text_put(s->confirm, sizeof s->confirm, "Write %s (%u bytes) into the blank sector 11? "
		    "Nothing is erased.", c->opts->bootloader.name, (unsigned)c->opts->bootloader.size);
		mark_gate(c, s);
	}
	step_verify(c, true, false, false);
	step_reset_and_wait(c);
}

/* Firmware only: the bootloader is in place and the app region is blank. */
static void lay_out_firmware_only(struct ctx *c)
{
	const struct swd_obs *swd = &c->obs->swd;
	bool config_data = (nonblank_sectors(swd) & CONFIG_SECTORS) != 0;
	bool skip = c->opts->keep_config || config_data;
	if (swd->staging.pending)
		note(c, "Sectors 8-10 hold a staged firmware update, but the bootloader only runs when a "
		     "running firmware jumps to it: with the application blank it never installs. It "
		     "stays where it is; the firmware is written over SWD.");
	uint16_t prot = protected_sectors(swd) & (uint16_t)(sectors_of_range(F4_FLASH_BASE,
							    c->opts->firmware.size));
	if (prot)
		step_wrp_clear(c, prot);
	step_write(c, STEP_WRITE_FIRMWARE, skip);
	if (c->plan->n > 0) {
		struct plan_step *s = &c->plan->steps[c->plan->n - 1].step;
		text_put(s->confirm, sizeof s->confirm, "Write %s (%u bytes) into the blank application "
		    "region? Nothing is erased%s.", c->opts->firmware.name,
		    (unsigned)c->opts->firmware.size, skip ? "; the configuration in sectors 1-2 is "
		    "kept" : "; the configuration starts from defaults");
		hw_caveat(c, &c->opts->firmware, s->confirm, sizeof s->confirm);
		mark_gate(c, s);
	}
	step_verify(c, false, true, skip);
	step_reset_and_wait(c);
}

/* The backup step, as done or as it would be done now. */
static uint16_t backed_up_sectors(const struct ctx *c, enum plan_path path)
{
	const struct plan_record *r = find_record(c->hist, c->path_from, path, STEP_BACKUP, ROLE_BACKUP);
	if (r && r->result == STEP_OK)
		return r->sectors;
	return nonblank_sectors(&c->obs->swd);
}

static void lay_out_canonical(struct ctx *c)
{
	const struct swd_obs *swd = &c->obs->swd;
	uint16_t nonblank = backed_up_sectors(c, PATH_CANONICAL);
	bool restore = c->opts->restore_config && (nonblank & CONFIG_SECTORS);
	step_backup(c, nonblank);
	uint16_t prot = protected_sectors(swd);
	if (prot)
		step_wrp_clear(c, prot);
	struct plan_step *s = add_step(c, STEP_MASS_ERASE, "Erase the whole flash");
	if (s) {
		s->sectors = ALL_SECTORS;
		s->bytes = 1024u * 1024u;
		text_put(s->reason, sizeof s->reason, "Start from a blank chip: the application is %s and "
		    "writes never erase.", verdict_flash_firmware(swd) == FW_CORRUPT ? "corrupt" :
		    verdict_flash_firmware(swd) == FW_ABSENT ? "missing" : "to be replaced");
		confirm_mass_erase(c, s, nonblank);
		mark_gate(c, s);
		if (nonblank == 0 && !find_record(c->hist, c->path_from, PATH_CANONICAL, STEP_MASS_ERASE, ROLE_NONE))
			skip_last(c, "The chip is already blank.");
	}
	step_write(c, STEP_WRITE_BOOTLOADER, false);
	step_write(c, STEP_WRITE_FIRMWARE, c->opts->restore_config);
	if (nonblank == 0 && c->plan->n >= 2) {
		/* No erase to carry the confirmation: the first write does. */
		s = &c->plan->steps[c->plan->n - 2].step;
		text_put(s->confirm, sizeof s->confirm, "Write %s at 0x080E0000 and %s at 0x08000000 into "
		    "the blank chip? Nothing is erased.", c->opts->bootloader.name, c->opts->firmware.name);
		hw_caveat(c, &c->opts->firmware, s->confirm, sizeof s->confirm);
		mark_gate(c, s);
	}
	step_verify(c, true, true, c->opts->restore_config);
	s = add_step(c, STEP_RESTORE_CONFIG, "Restore the configuration");
	if (s) {
		s->role = ROLE_BACKUP;
		s->address = F4_CONFIG_START;
		s->sectors = CONFIG_SECTORS;
		s->bytes = CONFIG_WINDOW;
		text_put(s->reason, sizeof s->reason, "Write the backed-up sectors 1-2 from %s into the blank "
		    "configuration window, then verify them.", backup_where(c));
		if (!restore)
			skip_last(c, c->opts->restore_config ? "The configuration sectors were blank: "
				  "nothing to restore." : "Not asked for (--restore-config): the "
				  "configuration starts from defaults.");
	}
	step_reset_and_wait(c);
}

static void lay_out_keep_config(struct ctx *c)
{
	const struct swd_obs *swd = &c->obs->swd;
	const struct plan_record *er = find_record(c->hist, c->path_from, PATH_KEEP_CONFIG,
						   STEP_SECTOR_ERASE, ROLE_NONE);
	bool need_bl = er ? (er->sectors & BL_SECTOR) != 0 : bootloader_needs_writing(c);
	uint16_t erase = APP_ERASE_SECTORS;
	if (need_bl && (er || !sector_is_blank(swd, 11)))
		erase |= BL_SECTOR;
	if (er)
		erase = er->sectors;
	step_backup(c, backed_up_sectors(c, PATH_KEEP_CONFIG));
	uint16_t prot = protected_sectors(swd) & (erase | (need_bl ? BL_SECTOR : 0));
	if (prot)
		step_wrp_clear(c, prot);
	struct plan_step *s = add_step(c, STEP_SECTOR_ERASE, "Erase the application sectors");
	if (s) {
		s->sectors = erase & (uint16_t)~CONFIG_SECTORS;   /* never 1-2 */
		s->bytes = sectors_bytes(s->sectors);
		text_put(s->reason, sizeof s->reason, "Erase only what the new image needs, keeping the "
		    "configuration in sectors 1-2 (--keep-config).");
		confirm_sector_erase(c, s);
		mark_gate(c, s);
		if (!er && (s->sectors & nonblank_sectors(swd)) == 0)
			skip_last(c, "Those sectors are already blank.");
	}
	if (need_bl)
		step_write(c, STEP_WRITE_BOOTLOADER, false);
	step_write(c, STEP_WRITE_FIRMWARE, true);
	step_verify(c, need_bl, true, true);
	step_reset_and_wait(c);
}

static void lay_out(struct ctx *c)
{
	switch (c->plan->path) {
	case PATH_UNPROTECT: lay_out_unprotect(c); break;
	case PATH_RESTART: lay_out_restart(c); break;
	case PATH_USB_BOOTLOADER: lay_out_usb_bootloader(c); break;
	case PATH_BOOTLOADER_ONLY: lay_out_bootloader_only(c); break;
	case PATH_FIRMWARE_ONLY: lay_out_firmware_only(c); break;
	case PATH_CANONICAL: lay_out_canonical(c); break;
	case PATH_KEEP_CONFIG: lay_out_keep_config(c); break;
	default: break;
	}
}

/* Images a path needs, checked before anything is laid out. */
static bool path_images_ok(struct ctx *c, enum plan_path path)
{
	switch (path) {
	case PATH_USB_BOOTLOADER:
	case PATH_BOOTLOADER_ONLY:
		return check_bootloader_image(c);
	case PATH_FIRMWARE_ONLY:
		return check_firmware_image(c);
	case PATH_CANONICAL:
		return check_bootloader_image(c) && check_firmware_image(c);
	case PATH_KEEP_CONFIG:
		if (!check_firmware_image(c))
			return false;
		return !bootloader_needs_writing(c) || check_bootloader_image(c);
	default:
		return true;
	}
}

/* ---- the decision tree (no path under way) --------------------------------- */

static void diagnose_step(struct ctx *c, enum plan_step_kind kind, enum attach_result rung)
{
	c->plan->path = PATH_DIAGNOSE;
	struct plan_step *s = NULL;
	switch (kind) {
	case STEP_SURVEY:
		s = add_step(c, STEP_SURVEY, "Survey the flash (read-only)");
		if (s)
			text_put(s->reason, sizeof s->reason, "Read what each sector holds: application and its "
			    "CRC, bootloader, configuration, staging; option bytes. Nothing is changed.");
		break;
	case STEP_ASK_BOOTLOADER:
		s = add_step(c, STEP_ASK_BOOTLOADER, "Ask about the last update");
		if (s) {
			s->person_action = true;
			text_put(s->reason, sizeof s->reason, "The firmware answers, and the bootloader cannot "
			    "be seen over USB. After your last firmware update, did the old firmware come "
			    "back? If so the bootloader is missing and can be installed over USB.");
		}
		break;
	default:
		s = add_step(c, STEP_SWD_ATTACH, "Attach over SWD");
		if (!s)
			break;
		s->rung = rung;
		switch (rung) {
		case ATTACH_UNDER_RESET:
			text_put(s->title, sizeof s->title, "Attach under reset");
			text_put(s->reason, sizeof s->reason, "A normal attach failed: running firmware may have "
			    "taken the SWD pins or put the core to sleep. Holding NRST low while attaching "
			    "keeps the firmware from running.");
			break;
		case ATTACH_SLOW_CLOCK:
			text_put(s->title, sizeof s->title, "Attach at a slower SWD clock");
			text_put(s->reason, sizeof s->reason, "Attach under reset failed too: long or loose "
			    "wires often work at a lower SWD clock.");
			break;
		case ATTACH_MANUAL_RESET:
			text_put(s->title, sizeof s->title, "Attach while you hold NRST");
			s->person_action = true;
			text_put(s->reason, sizeof s->reason, "The probe could not reset the chip (NRST may not "
			    "be wired). Hold the STM32's NRST (pin 7 on the LQFP64; often a pad or the RST "
			    "pin of the SWD header) to GND, confirm, and release it when told.");
			break;
		default:
			text_put(s->reason, sizeof s->reason, "Look for an ST-Link and the STM32 behind it: the "
			    "firmware does not answer over USB, so SWD is the way in.");
			break;
		}
		break;
	}
	if (s) {
		c->plan->steps[c->plan->n - 1].state = PSTATE_CURRENT;
		c->plan->current = (int)c->plan->n - 1;
	}
}

static const struct plan_record *rung_record(const struct ctx *c, enum attach_result rung)
{
	for (unsigned i = hist_count(c->hist); i-- > 0;) {
		const struct plan_record *r = &c->hist->rec[i];
		if (r->kind == STEP_SWD_ATTACH && r->rung == rung && record_usable(c->hist, i))
			return r;
	}
	return NULL;
}

static bool rung_tried(const struct ctx *c, enum attach_result rung)
{
	const struct swd_obs *swd = &c->obs->swd;
	unsigned n = swd->n_rungs < OBS_MAX_RUNGS ? swd->n_rungs : OBS_MAX_RUNGS;
	for (unsigned i = 0; i < n; i++)
		if (swd->ladder[i].rung == rung)
			return true;
	const struct plan_record *r = rung_record(c, rung);
	return r && (r->result == STEP_OK || r->result == STEP_FAILED);
}

static void ladder_evidence(const struct ctx *c, char *out, size_t cap)
{
	const struct swd_obs *swd = &c->obs->swd;
	unsigned n = swd->n_rungs < OBS_MAX_RUNGS ? swd->n_rungs : OBS_MAX_RUNGS;
	if (swd->voltage_known)
		text_append(out, cap, "target voltage %.2f V; ", swd->voltage);
	for (unsigned i = 0; i < n; i++)
		text_append(out, cap, "%s: %s%s%s; ", attach_result_name(swd->ladder[i].rung),
		       swd->ladder[i].ok ? "ok" : "failed", swd->ladder[i].saw[0] ? ", " : "",
		       swd->ladder[i].saw);
}

static bool ladder_saw_dpidr(const struct swd_obs *swd)
{
	unsigned n = swd->n_rungs < OBS_MAX_RUNGS ? swd->n_rungs : OBS_MAX_RUNGS;
	if (swd->dpidr)
		return true;
	for (unsigned i = 0; i < n; i++)
		if (swd->ladder[i].dpidr)
			return true;
	return false;
}

static const char *manual_rung_saw(const struct swd_obs *swd)
{
	unsigned n = swd->n_rungs < OBS_MAX_RUNGS ? swd->n_rungs : OBS_MAX_RUNGS;
	for (unsigned i = n; i-- > 0;)
		if (swd->ladder[i].rung == ATTACH_MANUAL_RESET)
			return swd->ladder[i].saw[0] ? swd->ladder[i].saw : "failed";
	return "failed";
}

/* Probe fine, no target: the attach ladder of issue 5, then the evidence. */
static void decide_no_target(struct ctx *c)
{
	const struct swd_obs *swd = &c->obs->swd;
	struct plan_decision *d = decision(c);
	if (swd->voltage_known && swd->voltage < 1.5) {
		finish(c, PLAN_NEEDS_PERSON, VR_EXIT_UNREACHABLE, "The ST-Link reads %.2f V from the "
		       "target: it looks unpowered. Power the VESC from its battery or supply. A "
		       "genuine ST-LINK/V2 only senses VDD: connect its VDD pin to the VESC's 3.3 V. "
		       "A clone supplies 3.3 V on that pin: do not connect it while the VESC is "
		       "powered.", swd->voltage);
		return;
	}
	static const enum attach_result ladder[] = {
		ATTACH_NORMAL, ATTACH_UNDER_RESET, ATTACH_SLOW_CLOCK, ATTACH_MANUAL_RESET,
	};
	for (size_t i = 0; i < COUNT(ladder); i++) {
		const struct plan_record *r = rung_record(c, ladder[i]);
		if (r && r->result == STEP_REFUSED) {
			finish(c, PLAN_NEEDS_PERSON, VR_EXIT_UNREACHABLE, "SWD attach needs you at the "
			       "bench: hold NRST to GND while attaching (run again on a terminal), and "
			       "check GND, SWDIO and SWCLK (VESC header: 3.3V, CLK, GND, DIO, RST, SWO).");
			ladder_evidence(c, d->evidence, sizeof d->evidence);
			return;
		}
		if (!rung_tried(c, ladder[i])) {
			diagnose_step(c, STEP_SWD_ATTACH, ladder[i]);
			return;
		}
	}
	ladder_evidence(c, d->evidence, sizeof d->evidence);
	if (ladder_saw_dpidr(swd))
		finish(c, PLAN_UNRECOVERABLE, VR_EXIT_UNRECOVERABLE, "The debug port answers but the "
		       "core never does: not normally, not under reset, not at a slow clock, not with "
		       "NRST held by hand. The MCU is likely damaged; the last resort is replacing the "
		       "STM32F405.");
	else
		finish(c, PLAN_NEEDS_PERSON, VR_EXIT_UNREACHABLE, "No SWD answer at any rung tried "
		       "(manual reset: %s). Most often the VESC is unpowered or a wire is wrong; "
		       "otherwise RDP2 or a dead MCU, indistinguishable from here. Check the VESC is "
		       "powered from its battery (a clone ST-Link reads about 3.2 V by itself), then GND, "
		       "SWDIO and SWCLK (VESC header: 3.3V, CLK, GND, DIO, RST, SWO). If you could not "
		       "hold NRST when asked, run again on a terminal.", manual_rung_saw(swd));
}

static bool restart_failed(const struct ctx *c)
{
	for (unsigned i = 0; i < hist_count(c->hist); i++) {
		const struct plan_record *r = &c->hist->rec[i];
		if (r->path == PATH_RESTART && r->kind == STEP_WAIT_VESC && r->result == STEP_FAILED)
			return true;
	}
	return false;
}

static enum plan_path rewrite_path(const struct ctx *c)
{
	return c->opts->keep_config ? PATH_KEEP_CONFIG : PATH_CANONICAL;
}

/* Target attached: choose from the survey. Returns PATH_NONE when finished. */
static enum plan_path decide_from_survey(struct ctx *c)
{
	const struct swd_obs *swd = &c->obs->swd;
	if (swd->rdp == 1)
		return PATH_UNPROTECT;
	if (!swd->survey_done) {
		diagnose_step(c, STEP_SURVEY, ATTACH_NOT_TRIED);
		return PATH_NONE;
	}
	enum fw_verdict fw = verdict_flash_firmware(swd);
	bool bl_ok = !bootloader_needs_writing(c);
	uint16_t app = sectors_of_range(F4_FLASH_BASE, c->opts->firmware.present ?
					c->opts->firmware.size : APP_REGION_MAX) & (uint16_t)~CONFIG_SECTORS;
	bool app_blank = (nonblank_sectors(swd) & app) == 0;
	if (fw == FW_PRESENT && swd->bootloader.present) {
		if (!restart_failed(c))
			return PATH_RESTART;
		if (c->opts->firmware.present)
			return rewrite_path(c);
		finish(c, PLAN_NEEDS_PERSON, VR_EXIT_UNREACHABLE, "The flash looks intact (application "
		       "CRC good, bootloader present) but the VESC stays silent on USB after a reset. "
		       "Check the USB cable carries data. A firmware for the wrong HW looks exactly "
		       "like this: give --firmware FILE (the image for your HW) to reflash it.");
		return PATH_NONE;
	}
	if (fw == FW_PRESENT)
		return PATH_BOOTLOADER_ONLY;
	if (app_blank && bl_ok && swd->bootloader.present)
		return PATH_FIRMWARE_ONLY;
	return rewrite_path(c);
}

/* The VESC answers over USB. */
static enum plan_path decide_answering(struct ctx *c)
{
	const struct swd_obs *swd = &c->obs->swd;
	if (swd->survey_done && swd->rdp != 1 && swd->rdp != 2) {
		if (!swd->bootloader.present)
			return PATH_BOOTLOADER_ONLY;
		finish(c, PLAN_HEALTHY, VR_EXIT_OK, "The VESC answers and the SWD survey shows the "
		       "bootloader in place: nothing to do.");
		if (swd->bootloader.kind == BL_KIND_OLD)
			note(c, "The bootloader is an old one without compression support: it cannot "
			     "install FW 6.x; VESC Tool's normal update replaces it first.");
		return PATH_NONE;
	}
	if (swd->target_found && !swd->survey_done && swd->rdp != 1) {
		diagnose_step(c, STEP_SURVEY, ATTACH_NOT_TRIED);
		return PATH_NONE;
	}
	switch (c->hist->bootloader_answer) {
	case BL_ANSWER_NOT_ASKED:
		diagnose_step(c, STEP_ASK_BOOTLOADER, ATTACH_NOT_TRIED);
		return PATH_NONE;
	case BL_ANSWER_MISSING:
		return PATH_USB_BOOTLOADER;
	default:
		finish(c, PLAN_HEALTHY, VR_EXIT_OK, "The VESC answers: nothing to recover. The "
		       "bootloader cannot be seen over USB: an SWD survey proves it, or if the old "
		       "firmware comes back after an update, the bootloader is missing (then run "
		       "recover again and say so).");
		return PATH_NONE;
	}
}

static enum plan_path decide(struct ctx *c)
{
	const struct observations *obs = c->obs;
	if (verdict_answering_port(obs) >= 0)
		return decide_answering(c);

	struct verdict v;
	verdict_compute(obs, &v);
	if (v.exit_status == VR_EXIT_ACCESS || v.exit_status == VR_EXIT_BUSY) {
		finish(c, PLAN_NEEDS_PERSON, v.exit_status, "%s %s", v.summary, v.next);
		return PATH_NONE;
	}
	for (unsigned i = 0; i < obs->n_serial && i < OBS_MAX_SERIAL; i++) {
		/* Bytes at a wrong rate mean a running firmware: flashing would
		 * destroy a working VESC. */
		if (obs->serial[i].is_uart && obs->serial[i].status == SERIAL_NOISE) {
			finish(c, PLAN_NEEDS_PERSON, VR_EXIT_UNREACHABLE, "%s %s", v.summary, v.next);
			return PATH_NONE;
		}
	}
	const struct swd_obs *swd = &obs->swd;
	if (!swd->tried) {
		const struct plan_record *r = rung_record(c, ATTACH_NORMAL);
		if (r && (r->result == STEP_OK || r->result == STEP_FAILED)) {
			/* The attach ran but left no trace: asking again would loop. */
			finish(c, PLAN_NEEDS_PERSON, VR_EXIT_UNREACHABLE, "%s No SWD probe could be used: "
			       "connect an ST-Link to the VESC's SWD header (GND, SWDIO, SWCLK) and run "
			       "again.", v.summary);
			return PATH_NONE;
		}
		diagnose_step(c, STEP_SWD_ATTACH, ATTACH_NORMAL);
		return PATH_NONE;
	}
	if (!swd->probe_found) {
		finish(c, PLAN_NEEDS_PERSON, v.exit_status ? v.exit_status : VR_EXIT_UNREACHABLE,
		       "%s %s", v.summary, v.next);
		return PATH_NONE;
	}
	if (swd->rdp == 2) {
		finish(c, PLAN_UNRECOVERABLE, VR_EXIT_UNRECOVERABLE, "The chip is at RDP level 2: "
		       "debug access is off for good and cannot be recovered over SWD. The STM32 "
		       "must be replaced.");
		text_put(decision(c)->evidence, sizeof decision(c)->evidence, "OPTCR 0x%08X",
		    (unsigned)swd->optcr);
		return PATH_NONE;
	}
	if (!swd->target_found) {
		decide_no_target(c);
		return PATH_NONE;
	}
	return decide_from_survey(c);
}

/* ---- a path under way ------------------------------------------------------ */

/* Does the chip as surveyed at the start of this run contradict what the
 * journal of an earlier run says was done? Only the journal's records are
 * weighed: this run's own steps came after the survey. */
static bool journal_contradicted(const struct ctx *c, enum plan_path path)
{
	const struct swd_obs *swd = &c->obs->swd;
	const struct plan_history *h = c->hist;
	unsigned n = h->n_from_journal;
	if (!swd->survey_done || swd->rdp == 1 || swd->rdp == 2 || n == 0)
		return false;
	const struct plan_record *bl = find_record_in(h, 0, n, path, STEP_WRITE_BOOTLOADER, ROLE_BOOTLOADER);
	const struct plan_record *fw = find_record_in(h, 0, n, path, STEP_WRITE_FIRMWARE, ROLE_FIRMWARE);
	const struct plan_record *me = find_record_in(h, 0, n, path, STEP_MASS_ERASE, ROLE_NONE);
	if (bl && bl->result == STEP_OK && !swd->bootloader.present)
		return true;
	if (fw && fw->result == STEP_OK && !swd->app.vector_valid)
		return true;
	if (me && me->result == STEP_OK) {
		/* Erased and not written since: must still be blank. */
		if ((!bl || bl->result == STEP_RESULT_NONE) && !sector_is_blank(swd, 11))
			return true;
		if (!fw && !sector_is_blank(swd, 0))
			return true;
	}
	return false;
}

/* The path of the latest work record, and where its records start. */
static enum plan_path active_path(const struct plan_history *h, unsigned *from)
{
	unsigned n = hist_count(h);
	for (unsigned i = n; i-- > 0;) {
		enum plan_path p = h->rec[i].path;
		if (!is_work_path(p))
			continue;
		/* Back to where another work path ended: attach and survey records
		 * of a new run may sit between records of the same path. */
		unsigned start = i;
		while (start > 0 && (h->rec[start - 1].path == p || !is_work_path(h->rec[start - 1].path)))
			start--;
		*from = start;
		return p;
	}
	*from = 0;
	return PATH_NONE;
}

/* A path whose last record says it is over: a new decision is needed. */
static bool path_over(const struct ctx *c, enum plan_path p)
{
	if (p == PATH_UNPROTECT) {
		const struct plan_record *r = find_record(c->hist, c->path_from, p, STEP_SURVEY, ROLE_NONE);
		return r && r->result == STEP_OK;
	}
	if (p == PATH_RESTART) {
		const struct plan_record *r = find_record(c->hist, c->path_from, p, STEP_WAIT_VESC, ROLE_NONE);
		return r && r->result == STEP_FAILED;
	}
	return false;
}

/* ---- states and the decision ------------------------------------------------ */

static const char *failure_text(enum plan_step_kind kind)
{
	switch (kind) {
	case STEP_BACKUP: return "The backup failed, so nothing was erased.";
	case STEP_MASS_ERASE:
	case STEP_SECTOR_ERASE: return "The erase failed: the flash may be partly erased. The "
				"backup holds what was there; run recover again to erase again.";
	case STEP_WRITE_BOOTLOADER:
	case STEP_WRITE_FIRMWARE: return "The write failed; run recover again to resume from the "
				  "last finished block.";
	case STEP_VERIFY: return "Verification found a difference between the flash and the image.";
	case STEP_RDP_REGRESS: return "Removing the read protection failed.";
	case STEP_WRP_CLEAR: return "Clearing the write protection failed.";
	default: return "The step failed.";
	}
}

/* The firmware written now runs and names its HW: if that is not what the
 * image was chosen for (a wrong --hw), say so loudly; it can damage the
 * power stage. */
static bool wrong_hw_after_boot(struct ctx *c)
{
	int idx = verdict_answering_port(c->obs);
	const struct plan_image *fw = &c->opts->firmware;
	const struct plan_record *w = find_record(c->hist, c->path_from, c->plan->path,
						  STEP_WRITE_FIRMWARE, ROLE_FIRMWARE);
	if (idx < 0 || !w || !fw->hw_name[0])
		return false;
	const char *reported = c->obs->serial[idx].fw.hw_name;
	if (!reported[0] || hw_group_matches(fw->hw_name, reported))
		return false;
	char given[48] = "";
	if (c->opts->hw_name[0])
		text_put(given, sizeof given, " (--hw %s)", c->opts->hw_name);
	finish(c, PLAN_NEEDS_PERSON, VR_EXIT_INPUT, "The firmware was written and the VESC answers, "
	       "but it reports HW %s while %s was chosen for HW %s%s. A firmware for the wrong HW "
	       "can damage the hardware: do not run a motor. Install the firmware for HW %s (VESC "
	       "Tool offers it for the HW the board reports, or vesc-rescue recover --hw %s).",
	       reported, fw->name[0] ? fw->name : "the image", fw->hw_name, given, reported, reported);
	return true;
}

static void success_outcome(struct ctx *c)
{
	const struct plan_entry *last = c->plan->n ? &c->plan->steps[c->plan->n - 1] : NULL;
	switch (c->plan->path) {
	case PATH_USB_BOOTLOADER:
		finish(c, PLAN_RECOVERED, VR_EXIT_OK, "The bootloader was written over USB (%u bytes at "
		       "0x080E0000) and the firmware still answers. USB cannot read it back: the next "
		       "firmware update proves it (the new firmware comes up).",
		       (unsigned)c->opts->bootloader.size);
		break;
	case PATH_RESTART:
		finish(c, PLAN_RECOVERED, VR_EXIT_OK, "The VESC answers again after a reset; nothing "
		       "was written.");
		break;
	case PATH_UNPROTECT:
		/* Completion is handled by path_over(); reaching here means the
		 * re-survey still shows protection. */
		finish(c, PLAN_FAILED, VR_EXIT_FAILED, "The read protection is still set after the "
		       "regression and a power cycle.");
		break;
	default:
		if (wrong_hw_after_boot(c))
			break;
		if (last && last->step.kind == STEP_WAIT_VESC)
			finish(c, PLAN_RECOVERED, VR_EXIT_OK, "Recovered: the VESC answers over USB again "
			       "(%s path).", plan_path_name(c->plan->path));
		else
			finish(c, PLAN_RECOVERED, VR_EXIT_OK, "All steps done.");
		break;
	}
}

static void stop_on(struct ctx *c, const struct plan_entry *e, const struct plan_record *r)
{
	if (r->result == STEP_REFUSED) {
		if (e->step.person_action)
			finish(c, PLAN_NEEDS_PERSON, VR_EXIT_UNREACHABLE, "Stopped at \"%s\": it needs "
			       "you at the bench. %s", e->step.title, e->step.reason);
		else
			finish(c, PLAN_NEEDS_PERSON, VR_EXIT_CONFIRM, "Stopped at \"%s\": not confirmed. "
			       "Nothing was changed by this step. To go on without a terminal, add --yes%s.",
			       e->step.title, e->step.needs_unprotect ? " --allow-unprotect" : "");
		return;
	}
	if (e->step.kind == STEP_WAIT_VESC) {
		finish(c, PLAN_NEEDS_PERSON, VR_EXIT_UNREACHABLE, "The flash was written and verified, "
		       "but the VESC did not answer on USB in time. Check the USB cable carries data; "
		       "a firmware for the wrong HW also stays silent (the red LED blinking fast means "
		       "its CRC check failed).");
		return;
	}
	finish(c, PLAN_FAILED, VR_EXIT_FAILED, "%s", failure_text(e->step.kind));
	text_put(decision(c)->evidence, sizeof decision(c)->evidence, "step %s failed (%s)",
	    plan_step_kind_name(e->step.kind), step_result_name(r->result));
}

static bool record_from_this_run(const struct ctx *c, const struct plan_record *r)
{
	return (unsigned)(r - c->hist->rec) >= c->hist->n_from_journal;
}

/* The flags given answer the confirmation? */
static void apply_preconfirm(struct ctx *c, struct plan_step *s, bool over_finished_work)
{
	const struct plan_options *o = c->opts;
	s->preconfirmed = o->yes && (!s->needs_unprotect || o->allow_unprotect);
	if (over_finished_work && !o->force) {
		s->preconfirmed = false;
		text_append(s->confirm, sizeof s->confirm, " This erases work an earlier step finished "
		       "(--force skips this question in batch mode).");
	}
}

/* Writes resume at the image offset the journal reached (block granular),
 * never past the image's end: a write logged complete but not "ok" is
 * simply not redone, and the verify step that follows checks it. */
static uint32_t resume_offset(const struct ctx *c, const struct plan_step *s,
			      const struct plan_record *r)
{
	uint32_t size = s->role == ROLE_BOOTLOADER ? c->opts->bootloader.size :
			s->role == ROLE_FIRMWARE ? c->opts->firmware.size : s->bytes;
	return r->bytes_done < size ? r->bytes_done : size;
}

static void assign_states(struct ctx *c)
{
	struct plan *p = c->plan;
	bool gate_confirmed = false;
	uint16_t finished = finished_write_sectors(c->given);
	bool backup_ok = c->hist->backup_verified;
	for (unsigned i = 0; i < p->n; i++) {
		struct plan_entry *e = &p->steps[i];
		if (e->state == PSTATE_SKIPPED) {
			if (e->step.kind == STEP_BACKUP)
				backup_ok = true;   /* skipped only when every sector is blank */
			continue;
		}
		const struct plan_record *r = find_record(c->hist, c->path_from, p->path, e->step.kind,
							  e->step.role);
		if (e->step.kind == STEP_BACKUP && r && r->result == STEP_OK)
			backup_ok = true;
		if (r && r->result == STEP_OK) {
			e->state = PSTATE_DONE;
			if (e->step.needs_confirm && !e->step.needs_unprotect && record_from_this_run(c, r))
				gate_confirmed = true;
			continue;
		}
		if (p->current >= 0)
			continue;
		if (r && (r->result == STEP_FAILED || r->result == STEP_REFUSED)) {
			e->state = PSTATE_FAILED;
			stop_on(c, e, r);
			return;
		}
		e->state = PSTATE_CURRENT;
		p->current = (int)i;
		if (r && (r->result == STEP_INTERRUPTED || r->result == STEP_STARTED)) {
			if (is_write_kind(e->step.kind))
				e->step.resume_offset = resume_offset(c, &e->step, r);
			note(c, is_erase_kind(e->step.kind) ? "An earlier run started this erase but did "
			     "not verify it: it is done again." : "An earlier run was interrupted here: "
			     "the finished blocks are kept and the rest is written.");
		}
		bool writes_or_erases = is_write_kind(e->step.kind) || is_erase_kind(e->step.kind);
		if (c->resumed && writes_or_erases && !e->step.needs_confirm && !gate_confirmed) {
			e->step.needs_confirm = true;
			text_put(e->step.confirm, sizeof e->step.confirm, "Resume the interrupted %s path: %s",
			    plan_path_name(p->path), e->step.reason);
		}
		if (e->step.needs_confirm && gate_confirmed && !e->step.needs_unprotect)
			e->step.needs_confirm = false;
		if (e->step.needs_confirm)
			apply_preconfirm(c, &e->step, is_erase_kind(e->step.kind) &&
					 (e->step.sectors & finished) != 0);
		if (is_erase_kind(e->step.kind) && e->step.kind != STEP_USB_ERASE_BOOTLOADER && !backup_ok) {
			/* Cannot happen with the templates above; a guard, not a path. */
			finish(c, PLAN_FAILED, VR_EXIT_INTERNAL, "Internal error: an erase was planned "
			       "without a verified backup. Nothing was erased; please report this.");
			return;
		}
	}
	if (p->current < 0)
		success_outcome(c);
}

static void fill_decision(struct ctx *c)
{
	struct plan *p = c->plan;
	p->total_bytes = 0;
	for (unsigned i = 0; i < p->n; i++)
		if (p->steps[i].state == PSTATE_PENDING || p->steps[i].state == PSTATE_CURRENT)
			p->total_bytes += p->steps[i].step.bytes > p->steps[i].step.resume_offset ?
					  p->steps[i].step.bytes - p->steps[i].step.resume_offset : 0;
	if (p->current >= 0) {
		p->decision.outcome = PLAN_CONTINUE;
		p->decision.step = p->steps[p->current].step;
		p->decision.exit_status = VR_EXIT_OK;
	}
}

/* Every path that changes flash asks once: when the step that carried the
 * confirmation turned out unnecessary (skipped), the first change left
 * carries it. */
static void ensure_gate(struct ctx *c)
{
	struct plan_step *first = NULL;
	for (unsigned i = 0; i < c->plan->n; i++) {
		struct plan_entry *e = &c->plan->steps[i];
		bool changes = is_write_kind(e->step.kind) || is_erase_kind(e->step.kind);
		if (e->state == PSTATE_SKIPPED || !changes)
			continue;
		if (e->step.needs_confirm)
			return;
		if (!first)
			first = &e->step;
	}
	if (!first)
		return;
	text_put(first->confirm, sizeof first->confirm, "%s Nothing is erased.", first->reason);
	if (first->role == ROLE_FIRMWARE)
		hw_caveat(c, &c->opts->firmware, first->confirm, sizeof first->confirm);
	mark_gate(c, first);
}

static void plan_path(struct ctx *c, enum plan_path path)
{
	c->plan->path = path;
	if (!path_images_ok(c, path))
		return;
	lay_out(c);
	ensure_gate(c);
	assign_states(c);
}

/* Every record of the active path comes from an earlier run's journal. */
static bool path_resumed(const struct ctx *c, enum plan_path active)
{
	if (c->path_from >= c->hist->n_from_journal)
		return false;
	for (unsigned i = c->path_from; i < hist_count(c->hist); i++)
		if (c->hist->rec[i].path == active && record_from_this_run(c, &c->hist->rec[i]))
			return false;
	return true;
}

/* Plans on this run's own records only (its refusals and failures still
 * count); returns the path those are under way with, if any. */
static enum plan_path distrust_journal(struct ctx *c, const char *why)
{
	const struct plan_history *h = c->given;
	unsigned n = hist_count(h);
	unsigned from = h->n_from_journal < n ? h->n_from_journal : n;
	note(c, why);
	memset(&c->trusted, 0, sizeof c->trusted);
	c->trusted.n = n - from;
	memcpy(c->trusted.rec, h->rec + from, sizeof h->rec[0] * c->trusted.n);
	c->trusted.bootloader_answer = h->bootloader_answer;
	c->hist = &c->trusted;
	return active_path(c->hist, &c->path_from);
}

void plan_build(const struct observations *obs, const struct plan_options *opts,
		const struct plan_history *hist, struct plan *out)
{
	struct ctx c;
	memset(&c, 0, sizeof c);
	memset(out, 0, sizeof *out);
	out->current = -1;
	c.obs = obs;
	c.opts = opts;
	c.hist = hist;
	c.given = hist;
	c.plan = out;

	if (opts->keep_config && opts->restore_config) {
		finish(&c, PLAN_NEEDS_PERSON, VR_EXIT_USAGE, "--keep-config and --restore-config "
		       "exclude each other: keep the configuration in place, or erase it and write "
		       "it back from the backup.");
		return;
	}
	enum plan_path active = active_path(hist, &c.path_from);
	if (active != PATH_NONE && journal_contradicted(&c, active)) {
		active = distrust_journal(&c, "The journal does not match what the chip holds now "
					  "(changed by another tool?): planning from the chip as it is.");
	} else if (active != PATH_NONE && active != PATH_USB_BOOTLOADER && path_resumed(&c, active) &&
		   verdict_answering_port(obs) >= 0) {
		/* Never write over a VESC that works now because an old journal
		 * says a recovery was left unfinished. */
		active = distrust_journal(&c, "The VESC answers now: the unfinished recovery in "
					  "the journal is not resumed.");
	}
	if (active != PATH_NONE && path_over(&c, active)) {
		if (active == PATH_UNPROTECT && obs->swd.rdp == 1) {
			finish(&c, PLAN_FAILED, VR_EXIT_FAILED, "The flash is still read protected after "
			       "the regression and a power cycle: the option bytes did not change.");
			return;
		}
		active = PATH_NONE;   /* decide afresh from the new survey */
	}
	if (active != PATH_NONE) {
		c.resumed = path_resumed(&c, active);
		if (c.resumed)
			note(&c, "Resuming the interrupted recovery from the journal: finished steps are "
			     "not done again.");
		plan_path(&c, active);
	} else {
		enum plan_path path = decide(&c);
		if (path != PATH_NONE)
			plan_path(&c, path);
	}
	if (out->current >= 0 || out->decision.outcome != PLAN_CONTINUE || out->decision.message[0])
		fill_decision(&c);
	else
		finish(&c, PLAN_FAILED, VR_EXIT_INTERNAL, "Internal error: no step and no outcome; "
		       "please report this.");
}

void plan_next(const struct observations *obs, const struct plan_options *opts,
	       const struct plan_history *hist, struct plan_decision *out)
{
	struct plan built;
	plan_build(obs, opts, hist, &built);
	*out = built.decision;
}
