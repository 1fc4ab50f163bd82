#include "ui/dialog_forms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/scenario.h"
#include "ui/dialogs.h"
#include "ui/draw.h"
#include "ui/format.h"

/* ---- images --------------------------------------------------------------- */

static const char *const field_labels[FIELD_COUNT_] = {
	[FIELD_BOOTLOADER] = "Bootloader file (.bin or .hex)",
	[FIELD_FIRMWARE] = "Firmware file (.bin or .hex)",
	[FIELD_IMAGES_DIR] = "or a VESC Tool firmware tree (res/firmwares)",
	[FIELD_HW] = "HW name (as VESC Tool names it: 60, 410, 75_300...)",
};

void dialog_expand_home(const char *path, char *out, size_t cap)
{
	const char *home = getenv("HOME");
	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0') && home && home[0])
		snprintf(out, cap, "%s%s", home, path + 1);
	else
		snprintf(out, cap, "%s", path);
}

void dialog_images_open(struct ui *ui)
{
	for (int i = 0; i < FIELD_COUNT_; i++)
		lineedit_set(&ui->fields[i], ui->image_values[i]);
	ui->field = FIELD_BOOTLOADER;
	ui->form_error[0] = '\0';
}

void dialog_images_draw(const struct ui *ui)
{
	int w = DIALOG_W < ui->layout.cols - 4 ? DIALOG_W : ui->layout.cols - 4;
	struct ui_rect in = dialogs_box(ui, 16, w, UIC_DIALOG, "Choose images");
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
		dialog_expand_home(ui->fields[i].text, values[i], sizeof values[i]);
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

unsigned dialog_images_key(struct ui *ui, int key)
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

void dialog_sim_open(struct ui *ui)
{
	ui->sim_choice = 0;
	for (size_t i = 0; i < bench_scenario_count(); i++)
		if (strcmp(bench_scenario_at(i)->name, "corrupt-app") == 0)
			ui->sim_choice = i;
}

void dialog_sim_draw(const struct ui *ui)
{
	size_t n = bench_scenario_count();
	int w = DIALOG_W < ui->layout.cols - 4 ? DIALOG_W : ui->layout.cols - 4;
	int h = (int)n + 7 < ui->layout.rows - 2 ? (int)n + 7 : ui->layout.rows - 2;
	struct ui_rect in = dialogs_box(ui, h, w, UIC_DIALOG, "Rehearse on the simulated bench");
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

unsigned dialog_sim_key(struct ui *ui, int key)
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
