#include "ui/screen_pager.h"

#include <stdio.h>

#include "ui/draw.h"
#include "ui/format.h"
#include "ui/guide.h"
#include "ui/screens.h"

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

void screen_pager_prepare(struct ui *ui)
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

void screen_pager_init(struct ui *ui)
{
	ui->pager_top[ui->screen] = 0;
	ui->log_follow = true;
}

void screen_pager_draw(const struct ui *ui)
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

unsigned screen_pager_key(struct ui *ui, int key)
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
