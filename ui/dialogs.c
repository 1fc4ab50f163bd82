#include "ui/dialogs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/scenario.h"
#include "ui/draw.h"
#include "ui/format.h"
#include "ui/screens.h"

#define DIALOG_W 74

/* Clears a centred box of h x w and frames it; returns its inside. */
static struct ui_rect open_box(const struct ui *ui, int h, int w, enum ui_color color, const char *title)
{
	struct ui_rect r = layout_dialog(ui->layout.rows, ui->layout.cols, h, w);
	draw_fill(r, color);
	draw_box(r, ui->glyphs, color, title);
	struct ui_rect in = {.y = r.y + 1, .x = r.x + 2, .h = r.h - 2, .w = r.w - 4};
	return in;
}

static int wrapped_height(const char *text, int width)
{
	char lines[40][256];
	return (int)fmt_wrap(text, (size_t)width, &lines[0][0], sizeof lines[0], 40);
}

/* A box sized to its text, with a closing line of keys. */
static void text_dialog(const struct ui *ui, enum ui_color color, const char *title, const char *body,
			const char *keys)
{
	int w = DIALOG_W < ui->layout.cols - 4 ? DIALOG_W : ui->layout.cols - 4;
	int body_h = wrapped_height(body, w - 4);
	struct ui_rect in = open_box(ui, body_h + 4, w, color, title);
	struct ui_rect text = {.y = in.y, .x = in.x, .h = in.h - 2, .w = in.w};
	draw_wrapped(text, color, body);
	draw_text(in.y + in.h - 1, in.x, in.w, color, keys);
}

/* ---- the engine's questions ------------------------------------------- */

static void confirm_draw(const struct ui *ui)
{
	const struct engine_confirm *c = &ui->view.confirm;
	char body[sizeof c->body + 200];
	snprintf(body, sizeof body, "%s%s", c->body,
		 c->needs_unprotect ? "\n\nThis also removes a protection of the chip (read or write protection)."
				    : "");
	text_dialog(ui, UIC_DIALOG_DANGER, c->title[0] ? c->title : "Confirm", body,
		    "y = yes, do it          n / Enter / Esc = no (the default)");
}

static unsigned confirm_key(struct ui *ui, int key)
{
	enum dialog_answer a = keymap_confirm_key(key);
	if (a == ANSWER_PENDING)
		return UI_NOTHING;
	engine_answer(ui->engine, a == ANSWER_YES);
	if (a == ANSWER_YES)
		ui_say(ui, UIC_NORMAL, "answered yes: %s", ui->view.confirm.title);
	else
		ui_say(ui, UIC_WARN, "answered no: nothing was changed (r looks again and re-plans)");
	return UI_REDRAW;
}

static void person_draw(const struct ui *ui)
{
	text_dialog(ui, UIC_DIALOG, "Your hands are needed", ui->view.person_prompt,
		    "Enter = done          Esc = give up");
}

static unsigned person_key(struct ui *ui, int key)
{
	enum dialog_answer a = keymap_person_key(key);
	if (a == ANSWER_PENDING)
		return UI_NOTHING;
	engine_person_done(ui->engine, a == ANSWER_YES);
	return UI_REDRAW;
}

/* ---- quit refused -------------------------------------------------------- */

static void quit_refused_draw(const struct ui *ui)
{
	struct engine_progress p = screens_live_progress(ui);
	char body[600], bound[80] = "";
	if (p.active && p.total == 0 && p.max_s > p.elapsed_s)
		snprintf(bound, sizeof bound, " (at most %.0f s more)", p.max_s - p.elapsed_s);
	else if (p.active && p.eta_s >= 0)
		snprintf(bound, sizeof bound, " (about %.0f s more)", p.eta_s);
	snprintf(body, sizeof body,
		 "Not now: %s is running. Stopping an erase or a write midway leaves the flash "
		 "half done, so the step must finish first%s.\n\n"
		 "y: quit when this step is done (nothing else will be started)%s",
		 p.active && p.what[0] ? p.what : "a step", bound,
		 p.active && p.cancellable ? "\nc: stop at the next safe point, then quit" : "");
	text_dialog(ui, UIC_DIALOG, "Quit?", body, "Esc / n = keep going");
}

static void ask_quit_after_step(struct ui *ui, bool cancel_too)
{
	if (cancel_too)
		engine_request(ui->engine, ENGINE_REQ_CANCEL, NULL, 0);
	engine_request(ui->engine, ENGINE_REQ_QUIT_AFTER_STEP, NULL, 0);
	ui->quit_after_step = true;
}

static unsigned quit_refused_key(struct ui *ui, int key)
{
	const struct engine_progress *p = &ui->view.progress;
	if (key == 'y' || key == 'Y') {
		ask_quit_after_step(ui, false);
		ui->dialog = DIALOG_NONE;
	} else if ((key == 'c' || key == 'C') && p->active && p->cancellable) {
		ask_quit_after_step(ui, true);
		ui->dialog = DIALOG_NONE;
	} else if (key == 'n' || key == KEY_ESCAPE || keymap_is_enter(key) || key == 'q')
		ui->dialog = DIALOG_NONE;
	else
		return UI_NOTHING;
	return UI_REDRAW;
}

unsigned dialogs_quit(struct ui *ui)
{
	switch (keymap_quit_action(ui->view.phase)) {
	case QUIT_NOW:
		return UI_QUIT;
	case QUIT_STOP_PROBE:
		/* A probe only reads: stopping it early loses nothing. */
		ask_quit_after_step(ui, true);
		return UI_REDRAW;
	default:
		dialogs_open(ui, DIALOG_QUIT_REFUSED);
		return UI_REDRAW;
	}
}

/* ---- backup ------------------------------------------------------------ */

static void backup_draw(const struct ui *ui)
{
	const struct engine_view *v = &ui->view;
	char body[1200];
	if (v->backup_path[0])
		snprintf(body, sizeof body, "The backup of this chip is in\n  %s\nwith its manifest %s.json.\n\n"
					    "Journal (what was done, for a resume):\n  %s",
			 v->backup_path, v->backup_path, v->journal_path[0] ? v->journal_path : "(none yet)");
	else
		snprintf(body, sizeof body,
			 "No backup yet. The plan makes one (every readable byte, with a manifest) before "
			 "anything is erased or written.\n\nJournal:\n  %s",
			 v->journal_path[0] ? v->journal_path : "(none yet)");
	text_dialog(ui, UIC_DIALOG, "Backup", body, "any key closes");
}

static unsigned backup_key(struct ui *ui, int key)
{
	ui->dialog = DIALOG_NONE;
	return UI_REDRAW;
}

/* ---- images --------------------------------------------------------------- */

static const char *const field_labels[FIELD_COUNT_] = {
	[FIELD_BOOTLOADER] = "Bootloader file (.bin or .hex)",
	[FIELD_FIRMWARE] = "Firmware file (.bin or .hex)",
	[FIELD_IMAGES_DIR] = "or a VESC Tool firmware tree (res/firmwares)",
	[FIELD_HW] = "HW name (as VESC Tool names it: 60, 410, 75_300...)",
};

void dialogs_expand_home(const char *path, char *out, size_t cap)
{
	const char *home = getenv("HOME");
	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0') && home && home[0])
		snprintf(out, cap, "%s%s", home, path + 1);
	else
		snprintf(out, cap, "%s", path);
}

static void images_open(struct ui *ui)
{
	for (int i = 0; i < FIELD_COUNT_; i++)
		lineedit_set(&ui->fields[i], ui->image_values[i]);
	ui->field = FIELD_BOOTLOADER;
	ui->form_error[0] = '\0';
}

static void images_draw(const struct ui *ui)
{
	int w = DIALOG_W < ui->layout.cols - 4 ? DIALOG_W : ui->layout.cols - 4;
	struct ui_rect in = open_box(ui, 16, w, UIC_DIALOG, "Choose images");
	int y = in.y, cursor_y = -1, cursor_x = 0;
	draw_text(y++, in.x, in.w, UIC_DIALOG, "Files, or a firmware tree and the HW name. Empty = not used.");
	for (int i = 0; i < FIELD_COUNT_; i++) {
		const struct line_edit *le = &ui->fields[i];
		draw_text(y++, in.x, in.w, UIC_DIALOG, field_labels[i]);
		/* Show the end of a long path: that is where the cursor is. */
		size_t cols = fmt_columns(le->text);
		size_t skip = cols + 1 > (size_t)in.w ? cols + 1 - (size_t)in.w : 0;
		const char *shown = le->text + fmt_prefix_bytes(le->text, skip);
		draw_line(y, in.x, in.w, UIC_INPUT, shown);
		if ((int)i == (int)ui->field) {
			cursor_y = y;
			cursor_x = in.x + (int)(fmt_columns(le->text) - fmt_columns(le->text + le->cursor) - skip);
		}
		y += 1;
		if (i == FIELD_FIRMWARE)
			y++;
	}
	draw_text(in.y + in.h - 2, in.x, in.w, UIC_ERROR, ui->form_error);
	draw_text(in.y + in.h - 1, in.x, in.w, UIC_DIALOG, "Tab/Up/Down: field   Enter: use these   Esc: cancel");
	if (cursor_y >= 0)
		move(cursor_y, cursor_x);
}

static bool check_path(struct ui *ui, enum image_field f, const char *path, bool want_dir)
{
	struct stat st;
	if (!path[0])
		return true;
	if (stat(path, &st) != 0 || access(path, R_OK) != 0) {
		snprintf(ui->form_error, sizeof ui->form_error, "%s: cannot read it", path);
		ui->field = f;
		return false;
	}
	if (want_dir != S_ISDIR(st.st_mode)) {
		snprintf(ui->form_error, sizeof ui->form_error, "%s: %s", path,
			 want_dir ? "not a directory" : "not a regular file");
		ui->field = f;
		return false;
	}
	return true;
}

static const char *or_null(const char *s)
{
	return s[0] ? s : NULL;
}

static unsigned images_apply(struct ui *ui)
{
	char values[FIELD_COUNT_][LINEEDIT_CAP];
	for (int i = 0; i < FIELD_COUNT_; i++)
		dialogs_expand_home(ui->fields[i].text, values[i], sizeof values[i]);
	if (!check_path(ui, FIELD_BOOTLOADER, values[FIELD_BOOTLOADER], false) ||
	    !check_path(ui, FIELD_FIRMWARE, values[FIELD_FIRMWARE], false) ||
	    !check_path(ui, FIELD_IMAGES_DIR, values[FIELD_IMAGES_DIR], true))
		return UI_REDRAW;
	memcpy(ui->image_values, values, sizeof values);
	ui->opts.bootloader_file = or_null(ui->image_values[FIELD_BOOTLOADER]);
	ui->opts.firmware_file = or_null(ui->image_values[FIELD_FIRMWARE]);
	ui->opts.images_dir = or_null(ui->image_values[FIELD_IMAGES_DIR]);
	ui->opts.hw_name = or_null(ui->image_values[FIELD_HW]);
	ui->dialog = DIALOG_NONE;
	ui_say(ui, UIC_NORMAL, "images set: probing again with them");
	return UI_RESTART | UI_REDRAW;
}

static unsigned images_key(struct ui *ui, int key)
{
	if (key == KEY_ESCAPE) {
		ui->dialog = DIALOG_NONE;
		return UI_REDRAW;
	}
	if (keymap_is_enter(key))
		return images_apply(ui);
	if (key == '\t' || key == KEY_DOWN)
		ui->field = (enum image_field)((ui->field + 1) % FIELD_COUNT_);
	else if (key == KEY_BTAB || key == KEY_UP)
		ui->field = (enum image_field)((ui->field + FIELD_COUNT_ - 1) % FIELD_COUNT_);
	else if (!lineedit_key(&ui->fields[ui->field], key))
		return UI_NOTHING;
	ui->form_error[0] = '\0';
	return UI_REDRAW;
}

/* ---- rehearsal picker ------------------------------------------------- */

static void sim_open(struct ui *ui)
{
	ui->sim_choice = 0;
	for (size_t i = 0; i < bench_scenario_count(); i++)
		if (strcmp(bench_scenario_at(i)->name, "corrupt-app") == 0)
			ui->sim_choice = i;
}

static void sim_draw(const struct ui *ui)
{
	size_t n = bench_scenario_count();
	int w = DIALOG_W < ui->layout.cols - 4 ? DIALOG_W : ui->layout.cols - 4;
	int h = (int)n + 7 < ui->layout.rows - 2 ? (int)n + 7 : ui->layout.rows - 2;
	struct ui_rect in = open_box(ui, h, w, UIC_DIALOG, "Rehearse on the simulated bench");
	draw_text(in.y, in.x, in.w, UIC_DIALOG, "A simulated VESC + ST-Link; the real hardware is left alone.");
	int rows = in.h - 4, top = 0;
	if ((int)ui->sim_choice >= rows)
		top = (int)ui->sim_choice - rows + 1;
	for (int i = 0; i < rows && top + i < (int)n; i++) {
		const struct bench_scenario *s = bench_scenario_at((size_t)(top + i));
		bool chosen = (size_t)(top + i) == ui->sim_choice;
		char line[80];
		snprintf(line, sizeof line, "%s %s", chosen ? ">" : " ", s->name);
		draw_line(in.y + 1 + i, in.x, in.w, chosen ? UIC_KEY : UIC_DIALOG, line);
	}
	draw_wrapped((struct ui_rect){.y = in.y + in.h - 3, .x = in.x, .h = 2, .w = in.w}, UIC_DIALOG,
		     bench_scenario_at(ui->sim_choice)->summary);
	draw_text(in.y + in.h - 1, in.x, in.w, UIC_DIALOG, "Up/Down: choose   Enter: start   Esc: cancel");
}

static unsigned sim_key(struct ui *ui, int key)
{
	size_t n = bench_scenario_count();
	if (key == KEY_ESCAPE || key == 'q') {
		ui->dialog = DIALOG_NONE;
		return UI_REDRAW;
	}
	if (key == KEY_UP || key == 'k')
		ui->sim_choice = (ui->sim_choice + n - 1) % n;
	else if (key == KEY_DOWN || key == 'j')
		ui->sim_choice = (ui->sim_choice + 1) % n;
	else if (keymap_is_enter(key)) {
		/* Real time: a rehearsal should feel like the bench. */
		snprintf(ui->sim_spec, sizeof ui->sim_spec, "%s,time-scale=1", bench_scenario_at(ui->sim_choice)->name);
		ui->opts.sim = ui->sim_spec;
		ui->dialog = DIALOG_NONE;
		ui_say(ui, UIC_NORMAL, "simulated bench: %s", bench_scenario_at(ui->sim_choice)->name);
		return UI_RESTART | UI_REDRAW;
	} else
		return UI_NOTHING;
	return UI_REDRAW;
}

/* ---- dispatch ----------------------------------------------------------- */

struct dialog_ops {
	void (*open)(struct ui *ui);
	void (*draw)(const struct ui *ui);
	unsigned (*key)(struct ui *ui, int key);
};

static void no_open(struct ui *ui) { (void)ui; }

static const struct dialog_ops dialog_table[] = {
	[DIALOG_QUIT_REFUSED] = {no_open, quit_refused_draw, quit_refused_key},
	[DIALOG_BACKUP] = {no_open, backup_draw, backup_key},
	[DIALOG_IMAGES] = {images_open, images_draw, images_key},
	[DIALOG_SIM] = {sim_open, sim_draw, sim_key},
};

void dialogs_open(struct ui *ui, enum ui_dialog dialog)
{
	ui->dialog = dialog;
	if (dialog != DIALOG_NONE)
		dialog_table[dialog].open(ui);
}

static bool engine_asks(const struct ui *ui)
{
	return ui->view.phase == ENGINE_CONFIRM || ui->view.phase == ENGINE_PERSON;
}

bool dialogs_active(const struct ui *ui)
{
	return engine_asks(ui) || ui->dialog != DIALOG_NONE;
}

void dialogs_draw(const struct ui *ui)
{
	curs_set(0);
	if (ui->view.phase == ENGINE_CONFIRM)
		confirm_draw(ui);
	else if (ui->view.phase == ENGINE_PERSON)
		person_draw(ui);
	else if (ui->dialog != DIALOG_NONE) {
		if (ui->dialog == DIALOG_IMAGES)
			curs_set(1);
		dialog_table[ui->dialog].draw(ui);
	}
}

unsigned dialogs_key(struct ui *ui, int key)
{
	if (ui->view.phase == ENGINE_CONFIRM)
		return confirm_key(ui, key);
	if (ui->view.phase == ENGINE_PERSON)
		return person_key(ui, key);
	if (ui->dialog != DIALOG_NONE)
		return dialog_table[ui->dialog].key(ui, key);
	return UI_NOTHING;
}
