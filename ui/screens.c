#include "ui/screens.h"

#include <stdio.h>
#include <string.h>

#include "ui/dialogs.h"
#include "ui/draw.h"
#include "ui/format.h"
#include "ui/guide.h"
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

bool screens_offer_rehearsal(const struct engine_view *v)
{
	if (v->simulated || !v->have_observations)
		return false;
	return v->verdict.answering_serial < 0 && !v->obs.swd.probe_found;
}

struct engine_progress screens_live_progress(const struct ui *ui)
{
	struct engine_progress p = ui->view.progress;
	if (p.active && p.total == 0 && ui->progress_seen_at > 0) {
		double since = ui_now() - ui->progress_seen_at;
		if (since > 0)
			p.elapsed_s = ui->progress_seen_elapsed + since;
	}
	return p;
}

/* ---- header ---------------------------------------------------------- */

static void draw_header(const struct ui *ui, struct ui_rect r)
{
	const struct engine_view *v = &ui->view;
	char mode[80], text[320];
	if (v->simulated)
		snprintf(mode, sizeof mode, " SIM %s ", v->sim_name);
	else
		snprintf(mode, sizeof mode, " LIVE ");
	const char *what = v->header[0] ? v->header
			   : v->have_observations ? "no ST-Link, no target"
						  : "not probed yet";
	snprintf(text, sizeof text, " vesc-rescue %s ", VR_VERSION);
	draw_line(r.y, r.x, r.w, UIC_HEADER, "");
	int x = draw_text(r.y, r.x, r.w, UIC_HEADER, text);
	x += draw_text(r.y, r.x + x, r.w - x, v->simulated ? UIC_HEADER_SIM : UIC_HEADER, mode);
	snprintf(text, sizeof text, " %s", what);
	draw_text(r.y, r.x + x, r.w - x, UIC_HEADER, text);
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

static void draw_link(const struct ui *ui, struct ui_rect r)
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

static void draw_target(const struct ui *ui, struct ui_rect r)
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

static int current_row(const struct engine_view *v)
{
	for (unsigned i = 0; i < v->n_plan; i++)
		if (v->plan[i].state == ROW_CURRENT)
			return (int)i;
	return -1;
}

static void draw_plan_rows(const struct ui *ui, struct ui_rect area)
{
	const struct engine_view *v = &ui->view;
	int cur = current_row(v);
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

static void draw_plan(const struct ui *ui, struct ui_rect r)
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

static void draw_log_pane(const struct ui *ui, struct ui_rect r)
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

static void draw_status(const struct ui *ui, struct ui_rect r)
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
		int cur = current_row(v);
		snprintf(text, sizeof text, "running: %s", cur >= 0 ? v->plan[cur].title : "step");
	} else if (v->have_observations)
		snprintf(text, sizeof text, "%s", v->verdict.summary);
	else
		text[0] = '\0';
	draw_line(r.y, r.x, r.w, color, text);
}

void screens_draw_footer(const struct ui *ui, struct ui_rect r)
{
	struct key_context c = {
		.phase = ui->view.phase,
		.screen = ui->screen,
		.have_step = current_row(&ui->view) >= 0,
		.offer_rehearsal = screens_offer_rehearsal(&ui->view),
		.quit_pending = ui->quit_after_step,
	};
	struct key_hint hints[KEYMAP_MAX_HINTS];
	size_t n = keymap_hints(&c, hints, KEYMAP_MAX_HINTS);
	draw_line(r.y, r.x, r.w, UIC_FOOTER, "");
	int x = 0;
	for (size_t i = 0; i < n; i++) {
		int need = (int)(fmt_columns(hints[i].key) + fmt_columns(hints[i].label)) + 1;
		if (x + need > r.w)
			break;
		x += draw_text(r.y, r.x + x, r.w - x, UIC_KEY, hints[i].key);
		x += draw_text(r.y, r.x + x, r.w - x, UIC_FOOTER, " ");
		x += draw_text(r.y, r.x + x, r.w - x, UIC_FOOTER, hints[i].label);
		x += draw_text(r.y, r.x + x, r.w - x, UIC_FOOTER, " ");
	}
}

/* ---- the main screen trio ----------------------------------------------- */

static void main_init(struct ui *ui)
{
	ui->main_log_back = 0;
}

static void main_draw(const struct ui *ui)
{
	const struct ui_layout *l = &ui->layout;
	draw_header(ui, l->header);
	draw_link(ui, l->link);
	draw_target(ui, l->target);
	draw_plan(ui, l->plan);
	draw_log_pane(ui, l->log);
	draw_status(ui, l->status);
	screens_draw_footer(ui, l->footer);
}

static unsigned start_work(struct ui *ui, enum engine_request req, const char *what)
{
	char why[160] = "";
	if (!keymap_can_start_work(ui->view.phase)) {
		ui_say(ui, UIC_WARN, "%s: not now, wait for the current step", what);
		return UI_REDRAW;
	}
	if (engine_request(ui->engine, req, why, sizeof why))
		ui_say(ui, UIC_NORMAL, "%s...", what);
	else
		ui_say(ui, UIC_WARN, "%s refused: %s", what, why);
	return UI_REDRAW;
}

static unsigned run_step(struct ui *ui, enum engine_request req)
{
	if (ui->view.phase == ENGINE_FINISHED) {
		ui_say(ui, UIC_NORMAL, "the plan is finished: r probes again");
		return UI_REDRAW;
	}
	if (current_row(&ui->view) < 0) {
		ui_say(ui, UIC_WARN, "no step to run yet: press r to probe first");
		return UI_REDRAW;
	}
	return start_work(ui, req, req == ENGINE_REQ_RUN_ON ? "running on" : "running the step");
}

static unsigned main_key(struct ui *ui, int key)
{
	unsigned n = ui->view.log_count < ENGINE_LOG_LINES ? ui->view.log_count : ENGINE_LOG_LINES;
	unsigned page = ui->layout.log.h > 3 ? (unsigned)ui->layout.log.h - 2 : 1;
	switch (key) {
	case 'r':
		/* The engine keeps a refused step in its history, so a probe
		 * alone would stop at it again: after a No, start afresh (the
		 * journal and the backup stay). */
		if (ui->view.phase == ENGINE_FINISHED && ui->view.exit_status == VR_EXIT_CONFIRM) {
			ui_say(ui, UIC_NORMAL, "looking again: a fresh plan");
			return UI_RESTART | UI_REDRAW;
		}
		return start_work(ui, ENGINE_REQ_PROBE, "probing");
	case 'a':
		return run_step(ui, ENGINE_REQ_RUN_ON);
	case 'i':
		if (!keymap_can_start_work(ui->view.phase)) {
			ui_say(ui, UIC_WARN, "images can be chosen when no step runs");
			return UI_REDRAW;
		}
		dialogs_open(ui, DIALOG_IMAGES);
		return UI_REDRAW;
	case 's':
		if (!keymap_can_start_work(ui->view.phase)) {
			ui_say(ui, UIC_WARN, "the simulated bench can be opened when no step runs");
			return UI_REDRAW;
		}
		dialogs_open(ui, DIALOG_SIM);
		return UI_REDRAW;
	case KEY_PPAGE:
		ui->main_log_back = ui->main_log_back + page < n ? ui->main_log_back + page : n;
		return UI_REDRAW;
	case KEY_NPAGE:
		ui->main_log_back = ui->main_log_back > page ? ui->main_log_back - page : 0;
		return UI_REDRAW;
	case KEY_END:
		ui->main_log_back = 0;
		return UI_REDRAW;
	default:
		if (keymap_is_enter(key))
			return run_step(ui, ENGINE_REQ_STEP);
		return UI_NOTHING;
	}
}

/* ---- pagers: log, wiring, help ------------------------------------------ */

/* Long transcript lines wrap, continuation lines indented, so nothing
 * (a backup path, an error's fix) is cut off. */
static void wrap_log(struct ui *ui, int width)
{
	char parts[3][ENGINE_LOG_LINE_MAX];
	unsigned n = ui->view.log_count < ENGINE_LOG_LINES ? ui->view.log_count : ENGINE_LOG_LINES;
	size_t out = 0;
	for (unsigned i = 0; i < n; i++) {
		size_t k = fmt_wrap(ui->log_lines[i], (size_t)width, &parts[0][0], sizeof parts[0], 3);
		if (k == 0)
			snprintf(ui->log_wrapped[out++], ENGINE_LOG_LINE_MAX, "%s", "");
		for (size_t j = 0; j < k; j++)
			snprintf(ui->log_wrapped[out++], ENGINE_LOG_LINE_MAX, "%s%s", j ? "    " : "", parts[j]);
	}
	ui->n_log_wrapped = out;
}

void screens_prepare(struct ui *ui)
{
	int width = ui->layout.cols - 6;
	if (width < 20)
		width = 20;
	if (ui->log_wrapped_count == ui->view.log_count && ui->log_wrapped_width == width && ui->view.log_count)
		return;
	wrap_log(ui, width);
	ui->log_wrapped_count = ui->view.log_count;
	ui->log_wrapped_width = width;
}

static void pager_lines(const struct ui *ui, enum ui_screen s, const char *const **static_lines, size_t *n)
{
	*static_lines = NULL;
	if (s == SCREEN_WIRING)
		*static_lines = guide_wiring(n);
	else if (s == SCREEN_HELP)
		*static_lines = guide_help(n);
	else
		*n = ui->n_log_wrapped;
}

static int pager_body_rows(const struct ui *ui)
{
	return ui->layout.rows - 2;
}

static int pager_max_top(const struct ui *ui, enum ui_screen s)
{
	const char *const *lines;
	size_t n;
	pager_lines(ui, s, &lines, &n);
	int max = (int)n - pager_body_rows(ui);
	return max > 0 ? max : 0;
}

static int pager_top(const struct ui *ui)
{
	int max = pager_max_top(ui, ui->screen);
	if (ui->screen == SCREEN_LOG && ui->log_follow)
		return max;
	return ui->pager_top[ui->screen] < max ? ui->pager_top[ui->screen] : max;
}

static void pager_init(struct ui *ui)
{
	ui->pager_top[ui->screen] = 0;
	ui->log_follow = true;
}

static void pager_draw(const struct ui *ui)
{
	static const char *const titles[SCREEN_COUNT_] = {
		[SCREEN_LOG] = "Log (transcript)", [SCREEN_WIRING] = "Wiring guide", [SCREEN_HELP] = "Help"};
	const char *const *lines;
	size_t n;
	pager_lines(ui, ui->screen, &lines, &n);
	int top = pager_top(ui), rows = pager_body_rows(ui);
	char title[160];
	snprintf(title, sizeof title, " %s   (lines %d-%d of %zu)", titles[ui->screen], n ? top + 1 : 0,
		 top + rows < (int)n ? top + rows : (int)n, n);
	draw_line(0, 0, ui->layout.cols, UIC_HEADER, title);
	for (int i = 0; i < rows && top + i < (int)n; i++) {
		const char *line = lines ? lines[top + i] : ui->log_wrapped[top + i];
		bool heading = lines && line[0] && line[0] != ' ';
		draw_text(1 + i, 1, ui->layout.cols - 2, heading ? UIC_TITLE : UIC_NORMAL, line);
	}
	struct ui_rect footer = {.y = ui->layout.rows - 1, .x = 0, .h = 1, .w = ui->layout.cols};
	screens_draw_footer(ui, footer);
}

static unsigned pager_key(struct ui *ui, int key)
{
	int top = pager_top(ui), page = pager_body_rows(ui) - 1, max = pager_max_top(ui, ui->screen);
	switch (key) {
	case KEY_UP: case 'k': top--; break;
	case KEY_DOWN: case 'j': top++; break;
	case KEY_PPAGE: top -= page; break;
	case KEY_NPAGE: case ' ': top += page; break;
	case KEY_HOME: case 'g': top = 0; break;
	case KEY_END: case 'G': top = max; break;
	case KEY_ESCAPE: case KEY_LEFT:
		screens_open(ui, SCREEN_MAIN);
		return UI_REDRAW;
	default:
		return UI_NOTHING;
	}
	top = top < 0 ? 0 : top > max ? max : top;
	ui->pager_top[ui->screen] = top;
	ui->log_follow = top == max;
	return UI_REDRAW;
}

/* ---- too small ---------------------------------------------------------- */

static void too_small_draw(const struct ui *ui)
{
	char now[64];
	int rows = ui->layout.rows, cols = ui->layout.cols;
	snprintf(now, sizeof now, "this one is %dx%d", cols, rows);
	bool asks = ui->view.phase == ENGINE_CONFIRM || ui->view.phase == ENGINE_PERSON;
	const char *lines[] = {"terminal too small (need 80x24)", now, "enlarge the window, or press q to quit",
			       asks ? "a question is waiting: enlarge the window to answer it"
			       : ui->view.phase == ENGINE_RUNNING ? "(a step is running: it goes on)" : ""};
	int first = rows / 2 - 2 < 0 ? 0 : rows / 2 - 2;
	for (int i = 0; i < 4 && first + i < rows; i++) {
		int len = (int)fmt_columns(lines[i]);
		int x = cols > len ? (cols - len) / 2 : 0;
		draw_text(first + i, x, cols - x, i == 0 ? UIC_WARN : UIC_NORMAL, lines[i]);
	}
}

/* ---- dispatch ------------------------------------------------------------ */

struct screen_ops {
	void (*init)(struct ui *ui);
	void (*draw)(const struct ui *ui);
	unsigned (*key)(struct ui *ui, int key);
};

static const struct screen_ops screen_table[SCREEN_COUNT_] = {
	[SCREEN_MAIN] = {main_init, main_draw, main_key},
	[SCREEN_LOG] = {pager_init, pager_draw, pager_key},
	[SCREEN_WIRING] = {pager_init, pager_draw, pager_key},
	[SCREEN_HELP] = {pager_init, pager_draw, pager_key},
};

void screens_open(struct ui *ui, enum ui_screen screen)
{
	ui->screen = screen;
	screen_table[screen].init(ui);
}

void screens_draw(const struct ui *ui)
{
	if (ui->layout.too_small)
		too_small_draw(ui);
	else
		screen_table[ui->screen].draw(ui);
}

/* w, l and ? open their screen from anywhere, and close it again. */
static unsigned toggle(struct ui *ui, enum ui_screen s)
{
	screens_open(ui, ui->screen == s ? SCREEN_MAIN : s);
	return UI_REDRAW;
}

unsigned screens_key(struct ui *ui, int key)
{
	switch (key) {
	case 'w': return toggle(ui, SCREEN_WIRING);
	case 'l': return toggle(ui, SCREEN_LOG);
	case '?': return toggle(ui, SCREEN_HELP);
	case 'b':
		dialogs_open(ui, DIALOG_BACKUP);
		return UI_REDRAW;
	default:
		return screen_table[ui->screen].key(ui, key);
	}
}
