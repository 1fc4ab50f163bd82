/* Where each pane goes for a terminal of rows x cols. Pure geometry: the
 * loop recomputes it on every resize and draws from it. 80x24 is the
 * smallest screen that holds everything; below it the dashboard shows a
 * "terminal too small" screen instead of overlapping panes. */
#ifndef VR_UI_LAYOUT_H
#define VR_UI_LAYOUT_H

#include <stdbool.h>

#define UI_MIN_ROWS 24
#define UI_MIN_COLS 80

struct ui_rect {
	int y, x, h, w;
};

struct ui_layout {
	int rows, cols;
	bool too_small;
	struct ui_rect header;    /* one line */
	struct ui_rect link;      /* boxed panes */
	struct ui_rect target;
	struct ui_rect plan;
	struct ui_rect log;
	struct ui_rect status;    /* one line: progress bar or the last message */
	struct ui_rect footer;    /* one line: the keys that apply now */
};

void layout_compute(int rows, int cols, struct ui_layout *out);

/* A centred dialog of at most h x w inside the screen (margins kept). */
struct ui_rect layout_dialog(int rows, int cols, int h, int w);

#endif
