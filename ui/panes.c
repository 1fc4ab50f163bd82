#include "ui/panes.h"

#include <stdio.h>
#include <string.h>

#include "ui/draw.h"
#include "ui/format.h"
#include "ui/screens.h"
#include "version.h"

#define PANE_LINE_MAX 240

struct pane_line {
	char text[PANE_LINE_MAX];
	enum ui_color color;
};

static struct ui_rect inner(struct ui_rect r)
{
	struct ui_rect in = {.y = r.y + 1, .x = r.x + 1, .h = r.h - 2, .w = r.w - 2};
	return in;
}

/* ---- header ---------------------------------------------------------- */

void panes_header(const struct ui *ui, struct ui_rect r)
{
	const struct engine_view *v = &ui->view;
	char mode[80], text[64];
	if (v->simulated)
		snprintf(mode, sizeof mode, " SIM %s ", v->sim_name);
	else
		snprintf(mode, sizeof mode, " LIVE ");
	const char *what = v->header[0] ? v->header
			   : v->have_observations ? "no ST-Link, no target"
						  : "not probed yet";
	snprintf(text, sizeof text, " vesc-rescue %s", VR_VERSION);
	draw_line(r.y, r.x, r.w, UIC_HEADER, "");
	int x = draw_text(r.y, r.x, r.w, UIC_HEADER, text);
	x += draw_text(r.y, r.x + x, r.w - x, v->simulated ? UIC_HEADER_SIM : UIC_HEADER, mode);
	/* The mode tag is padded with a space: the probe and target follow
	 * it directly, so "1024 KB" still fits 80 columns. */
	draw_text(r.y, r.x + x, r.w - x, UIC_HEADER, what);
}

/* ---- Link pane -------------------------------------------------------- */

static size_t add_line(struct pane_line *out, size_t n, size_t max, enum ui_color color, const char *text)
{
	if (n >= max)
		return n;
	snprintf(out[n].text, sizeof out[n].text, "%s", text);
	out[n].color = color;
	return n + 1;
}

static enum ui_color usb_color(const struct usb_obs *u)
{
	if (u->access != VR_OK)
		return UIC_ERROR;
	if (u->kind == USB_KIND_VESC_CDC || u->kind == USB_KIND_STLINK)
		return UIC_OK;
	if (u->kind == USB_KIND_STLINK_BOOT || u->kind == USB_KIND_STM32_DFU)
		return UIC_WARN;
	return UIC_NORMAL;
}

static size_t link_lines(const struct ui *ui, struct pane_line *out, size_t max)
{
	const struct engine_view *v = &ui->view;
	const struct observations *o = &v->obs;
	char text[PANE_LINE_MAX];
	size_t n = 0;
	if (!v->have_observations)
		return add_line(out, n, max, UIC_DIM,
				v->phase == ENGINE_PROBING ? "probing USB and serial ports..." : "not probed yet: press r");
	if (o->usb_error)
		n = add_line(out, n, max, UIC_ERROR, o->usb_error_text);
	if (o->n_usb == 0 && !o->usb_error)
		n = add_line(out, n, max, UIC_WARN, "USB: no VESC, ST-Link, DFU or USB-UART device");
	for (unsigned i = 0; i < o->n_usb; i++) {
		fmt_usb_line(&o->usb[i], text, sizeof text);
		n = add_line(out, n, max, usb_color(&o->usb[i]), text);
	}
	if (o->n_serial == 0)
		n = add_line(out, n, max, UIC_DIM, "serial: no port that could be a VESC");
	for (unsigned i = 0; i < o->n_serial; i++) {
		fmt_serial_line(&o->serial[i], text, sizeof text);
		n = add_line(out, n, max, fmt_serial_color(o->serial[i].status), text);
	}
	return n;
}

static void draw_lines(struct ui_rect in, const struct pane_line *lines, size_t n)
{
	for (size_t i = 0; i < n && (int)i < in.h; i++) {
		if ((int)i == in.h - 1 && n > (size_t)in.h) {
			char more[64];
			snprintf(more, sizeof more, "... %zu more (l: log, or the probe command)", n - i);
			draw_text(in.y + (int)i, in.x, in.w, UIC_DIM, more);
			return;
		}
		draw_text(in.y + (int)i, in.x, in.w, lines[i].color, lines[i].text);
	}
}

void panes_link(const struct ui *ui, struct ui_rect r)
{
	struct pane_line lines[OBS_MAX_USB + OBS_MAX_SERIAL + 4];
	draw_box(r, ui->glyphs, UIC_BORDER, "Link");
	size_t n = link_lines(ui, lines, sizeof lines / sizeof lines[0]);
	draw_lines(inner(r), lines, n);
}

/* ---- Target pane ------------------------------------------------------ */

static void draw_sector_map(const struct swd_obs *swd, int y, int x, int width)
{
	/* Three columns a cell when there is room, else a letter and a gap:
	 * the letters alone still read in monochrome. */
	bool wide = width >= 4 + F4_SECTORS * 3;
	int used = draw_text(y, x, width, UIC_NORMAL, "Map ");
	for (unsigned i = 0; i < F4_SECTORS && used + 2 <= width; i++) {
		enum sector_state st = swd->survey_done ? swd->sectors[i].state : SECTOR_UNKNOWN;
		char cell[4];
		snprintf(cell, sizeof cell, wide ? " %c " : "%c", fmt_sector_char(st));
		used += draw_text(y, x + used, width - used, fmt_sector_color(st), cell);
		if (!wide)
			used += draw_text(y, x + used, width - used, UIC_NORMAL, " ");
	}
}

static enum ui_color firmware_color(enum fw_verdict f)
{
	return f == FW_PRESENT ? UIC_OK : f == FW_UNKNOWN ? UIC_DIM : UIC_ERROR;
}

static enum ui_color bootloader_color(enum bl_verdict b)
{
	return b == BL_PRESENT ? UIC_OK : b == BL_UNKNOWN ? UIC_DIM : UIC_WARN;
}

void panes_target(const struct ui *ui, struct ui_rect r)
{
	const struct engine_view *v = &ui->view;
	const struct swd_obs *swd = &v->obs.swd;
	struct ui_rect in = inner(r);
	char text[PANE_LINE_MAX];
	int y = in.y, bottom = in.y + in.h;
	draw_box(r, ui->glyphs, UIC_BORDER, "Target");
	if (!v->have_observations || !swd->tried) {
		draw_text(y, in.x, in.w, UIC_DIM, v->phase == ENGINE_PROBING ? "probing SWD..." : "SWD not probed yet");
		return;
	}
	fmt_voltage_line(swd, text, sizeof text);
	draw_text(y++, in.x, in.w, swd->voltage_known && swd->voltage < 1.7 ? UIC_ERROR : UIC_NORMAL, text);
	fmt_attach_line(swd, text, sizeof text);
	draw_text(y++, in.x, in.w, swd->target_found ? UIC_OK : UIC_ERROR, text);
	if (swd->target_found) {
		draw_sector_map(swd, y++, in.x, in.w);
		enum sector_state states[F4_SECTORS];
		for (unsigned i = 0; i < F4_SECTORS; i++)
			states[i] = swd->survey_done ? swd->sectors[i].state : SECTOR_UNKNOWN;
		fmt_sector_legend(states, F4_SECTORS, text, sizeof text);
		draw_text(y++, in.x, in.w, UIC_DIM, text);
	} else {
		const char *advice = swd->advice[0] ? swd->advice : swd->probe_error;
		struct ui_rect box = {.y = y, .x = in.x, .h = bottom - 2 - y, .w = in.w};
		int used = draw_wrapped(box, UIC_WARN, advice);
		y += used < box.h ? used : box.h;
	}
	if (y < bottom) {
		fmt_firmware_line(&v->verdict, swd, text, sizeof text);
		draw_text(y++, in.x, in.w, firmware_color(v->verdict.firmware), text);
	}
	if (y < bottom) {
		fmt_bootloader_line(&v->verdict, text, sizeof text);
		draw_text(y++, in.x, in.w, bootloader_color(v->verdict.bootloader), text);
	}
}

/* ---- Plan pane -------------------------------------------------------- */

int panes_current_row(const struct engine_view *v)
{
	for (unsigned i = 0; i < v->n_plan; i++)
		if (v->plan[i].state == ROW_CURRENT)
			return (int)i;
	return -1;
}

static void draw_plan_rows(const struct ui *ui, struct ui_rect area)
{
	const struct engine_view *v = &ui->view;
	int cur = panes_current_row(v);
	int top = 0;
	if (cur >= area.h)
		top = cur - area.h + 1;
	for (int row = 0; row < area.h && top + row < (int)v->n_plan; row++) {
		const struct engine_plan_row *p = &v->plan[top + row];
		char text[PANE_LINE_MAX];
		snprintf(text, sizeof text, "%s %s", fmt_row_mark(p->state, ui->glyphs), p->title);
		int used = draw_text(area.y + row, area.x, area.w, fmt_row_color(p->state), text);
		if (p->detail[0] && used + 3 < area.w) {
			snprintf(text, sizeof text, "  %s", p->detail);
			draw_text(area.y + row, area.x + used, area.w - used, UIC_DIM, text);
		}
	}
}

static void plan_footnote(const struct engine_view *v, char *out, size_t cap, enum ui_color *color)
{
	*color = UIC_NORMAL;
	if (v->phase == ENGINE_FINISHED && v->outcome[0]) {
		snprintf(out, cap, "%s%s", v->outcome, v->exit_status ? " In the dashboard: r looks again and re-plans." : "");
		*color = v->exit_status == 0 ? UIC_OK : UIC_ERROR;
	} else if (v->reason[0])
		snprintf(out, cap, "Why: %s", v->reason);
	else if (v->have_observations)
		snprintf(out, cap, "%s%s%s", v->verdict.summary, v->verdict.next[0] ? " " : "", v->verdict.next);
	else
		snprintf(out, cap, "Press r to look at the bench (read-only), w for the wiring guide.");
}

void panes_plan(const struct ui *ui, struct ui_rect r)
{
	const struct engine_view *v = &ui->view;
	struct ui_rect in = inner(r);
	char note[700];
	enum ui_color note_color;
	draw_box(r, ui->glyphs, UIC_BORDER, "Plan");
	plan_footnote(v, note, sizeof note, &note_color);
	char lines[8][256];
	int need = (int)fmt_wrap(note, (size_t)in.w, &lines[0][0], sizeof lines[0], 8);
	/* The rows come first; the reason gets what is left, at least three
	 * lines (its full text is in the log). */
	int room = in.h - 1 - (int)v->n_plan;
	if (room < 3)
		room = 3;
	if (v->n_plan == 0)
		room = in.h;
	int note_h = need < room ? need : room;
	struct ui_rect rows = {.y = in.y, .x = in.x, .h = in.h - note_h - (v->n_plan ? 1 : 0), .w = in.w};
	draw_plan_rows(ui, rows);
	for (int i = 0; i < note_h; i++)
		draw_text(in.y + in.h - note_h + i, in.x, in.w, note_color, lines[i]);
}

/* ---- Log pane ---------------------------------------------------------- */

static void draw_log_tail(const struct ui *ui, struct ui_rect in, unsigned back)
{
	unsigned n = ui->view.log_count < ENGINE_LOG_LINES ? ui->view.log_count : ENGINE_LOG_LINES;
	unsigned rows = (unsigned)in.h;
	if (back > n)
		back = n;
	unsigned end = n - back;
	unsigned first = end > rows ? end - rows : 0;
	for (unsigned i = first; i < end; i++)
		draw_text(in.y + (int)(i - first), in.x, in.w, UIC_NORMAL, ui->log_lines[i]);
}

void panes_log(const struct ui *ui, struct ui_rect r)
{
	char title[48];
	if (ui->main_log_back)
		snprintf(title, sizeof title, "Log (%u lines back, End: latest)", ui->main_log_back);
	else
		snprintf(title, sizeof title, "Log");
	draw_box(r, ui->glyphs, UIC_BORDER, title);
	draw_log_tail(ui, inner(r), ui->main_log_back);
}

/* ---- status and footer ------------------------------------------------ */

static void draw_progress(const struct ui *ui, struct ui_rect r)
{
	struct engine_progress p = screens_live_progress(ui);
	char what[80], bar[256], text[200];
	snprintf(what, sizeof what, "%s ", p.what[0] ? p.what : "working");
	fmt_progress_text(&p, text, sizeof text);
	int bar_w = r.w - (int)fmt_columns(what) - (int)fmt_columns(text) - 3;
	if (bar_w > 40)
		bar_w = 40;
	if (bar_w < 5)
		bar_w = 5;
	fmt_bar(fmt_progress_fraction(&p), (unsigned)bar_w, ui->glyphs, bar, sizeof bar);
	draw_line(r.y, r.x, r.w, UIC_NORMAL, "");
	int x = draw_text(r.y, r.x, r.w, UIC_TITLE, what);
	x += draw_text(r.y, r.x + x, r.w - x, UIC_PROGRESS, bar);
	x += draw_text(r.y, r.x + x, r.w - x, UIC_NORMAL, " ");
	bool late = p.total == 0 && p.max_s > 0 && p.elapsed_s > p.max_s;
	draw_text(r.y, r.x + x, r.w - x, late ? UIC_WARN : UIC_NORMAL, text);
}

void panes_status(const struct ui *ui, struct ui_rect r)
{
	const struct engine_view *v = &ui->view;
	char text[400];
	enum ui_color color = UIC_NORMAL;
	if (ui->signal_seen) {
		snprintf(text, sizeof text, "signal received: stopping at the next safe point, then quitting");
		color = UIC_WARN;
	} else if (v->progress.active && v->phase == ENGINE_RUNNING) {
		draw_progress(ui, r);
		return;
	} else if (ui->quit_after_step) {
		snprintf(text, sizeof text, "will quit when this step is done");
		color = UIC_WARN;
	} else if (ui->message[0]) {
		snprintf(text, sizeof text, "%s", ui->message);
		color = ui->message_color;
	} else if (v->phase == ENGINE_PROBING)
		snprintf(text, sizeof text, "probing: USB, serial ports, SWD (read-only)...");
	else if (v->phase == ENGINE_RUNNING) {
		int cur = panes_current_row(v);
		snprintf(text, sizeof text, "running: %s", cur >= 0 ? v->plan[cur].title : "step");
	} else if (v->have_observations)
		snprintf(text, sizeof text, "%s", v->verdict.summary);
	else
		text[0] = '\0';
	draw_line(r.y, r.x, r.w, color, text);
}
