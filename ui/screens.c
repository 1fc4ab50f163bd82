#include "ui/screens.h"

#include <stdio.h>

#include "ui/dialogs.h"
#include "ui/draw.h"
#include "ui/format.h"
#include "ui/panes.h"
#include "ui/screen_main.h"
#include "ui/screen_pager.h"

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

void screens_draw_footer(const struct ui *ui, struct ui_rect r)
{
	struct key_context c = {
		.phase = ui->view.phase,
		.screen = ui->screen,
		.have_step = panes_current_row(&ui->view) >= 0,
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

void screens_prepare(struct ui *ui)
{
	screen_pager_prepare(ui);
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
	[SCREEN_MAIN] = {screen_main_init, screen_main_draw, screen_main_key},
	[SCREEN_LOG] = {screen_pager_init, screen_pager_draw, screen_pager_key},
	[SCREEN_WIRING] = {screen_pager_init, screen_pager_draw, screen_pager_key},
	[SCREEN_HELP] = {screen_pager_init, screen_pager_draw, screen_pager_key},
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
