#include "ui/layout.h"

#include <string.h>

/* Rows the Link pane gets at the minimum size: 3 lines inside its box. The
 * Target pane needs 6 (voltage, attach, map, legend, two verdicts). */
#define LINK_MIN_H 5
#define TARGET_H 8

static struct ui_rect rect(int y, int x, int h, int w)
{
	struct ui_rect r = {.y = y, .x = x, .h = h, .w = w};
	return r;
}

void layout_compute(int rows, int cols, struct ui_layout *out)
{
	memset(out, 0, sizeof *out);
	out->rows = rows;
	out->cols = cols;
	out->too_small = rows < UI_MIN_ROWS || cols < UI_MIN_COLS;
	if (out->too_small)
		return;
	/* Extra rows go half to the panes above, half to the log; extra
	 * columns go to the right-hand Plan pane, which holds the longest
	 * texts. */
	int extra_rows = rows - UI_MIN_ROWS;
	int top_h = LINK_MIN_H + TARGET_H + extra_rows / 2;
	int log_h = rows - 3 - top_h;
	int left_w = cols >= 120 ? 48 : 40;
	out->header = rect(0, 0, 1, cols);
	out->link = rect(1, 0, top_h - TARGET_H, left_w);
	out->target = rect(1 + top_h - TARGET_H, 0, TARGET_H, left_w);
	out->plan = rect(1, left_w, top_h, cols - left_w);
	out->log = rect(1 + top_h, 0, log_h, cols);
	out->status = rect(rows - 2, 0, 1, cols);
	out->footer = rect(rows - 1, 0, 1, cols);
}

struct ui_rect layout_dialog(int rows, int cols, int h, int w)
{
	if (w > cols - 4)
		w = cols - 4;
	if (h > rows - 2)
		h = rows - 2;
	if (w < 1)
		w = 1;
	if (h < 1)
		h = 1;
	return rect((rows - h) / 2, (cols - w) / 2, h, w);
}
