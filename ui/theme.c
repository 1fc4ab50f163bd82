#include "ui/theme.h"

#include <string.h>
#include <strings.h>

struct color_row {
	int fg, bg;
	attr_t attr, mono;
};

static const struct color_row color_rows[UIC_COUNT_] = {
#define UI_COLOR_ROW(name, fg_, bg_, attr_, mono_) [name] = {.fg = fg_, .bg = bg_, .attr = attr_, .mono = mono_},
	UI_COLOR_TABLE(UI_COLOR_ROW)
#undef UI_COLOR_ROW
};

/* Set once by theme_start; the UI is single-threaded. */
static bool colors_on, utf8_on;

static const struct ui_glyphs glyphs_utf8 = {
	.h = "\u2500", .v = "\u2502", .tl = "\u250c", .tr = "\u2510", .bl = "\u2514", .br = "\u2518",
	.bar_done = "\u2588", .bar_todo = "\u2591",
	.row_done = "\u2713", .row_current = "\u25b6", .row_failed = "\u2717",
	.row_skipped = "-", .row_pending = "\u00b7",
	.arrow = "\u2192",
};

static const struct ui_glyphs glyphs_ascii = {
	.h = "-", .v = "|", .tl = "+", .tr = "+", .bl = "+", .br = "+",
	.bar_done = "#", .bar_todo = ".",
	.row_done = "+", .row_current = ">", .row_failed = "x",
	.row_skipped = "-", .row_pending = " ",
	.arrow = "->",
};

bool theme_color_wanted(bool no_color_option, const char *no_color_env, bool terminal_has_colors)
{
	if (no_color_option)
		return false;
	if (no_color_env && no_color_env[0])
		return false;
	return terminal_has_colors;
}

bool theme_codeset_is_utf8(const char *codeset)
{
	if (!codeset)
		return false;
	return strcasecmp(codeset, "UTF-8") == 0 || strcasecmp(codeset, "UTF8") == 0;
}

const struct ui_glyphs *theme_glyphs(bool utf8)
{
	return utf8 ? &glyphs_utf8 : &glyphs_ascii;
}

static const struct color_row *row_of(enum ui_color c)
{
	return &color_rows[(unsigned)c < UIC_COUNT_ ? c : UIC_NORMAL];
}

attr_t theme_mono_attr(enum ui_color c) { return row_of(c)->mono; }
attr_t theme_color_attr(enum ui_color c) { return row_of(c)->attr; }
int theme_color_fg(enum ui_color c) { return row_of(c)->fg; }
int theme_color_bg(enum ui_color c) { return row_of(c)->bg; }

bool theme_utf8(void)
{
	return utf8_on;
}

void theme_start(bool color, bool utf8)
{
	utf8_on = utf8;
	colors_on = false;
	if (!color || start_color() == ERR)
		return;
	/* Without default colours, -1 would be rejected: fall back to black. */
	bool defaults = use_default_colors() == OK;
	for (int i = 0; i < UIC_COUNT_; i++) {
		int fg = color_rows[i].fg, bg = color_rows[i].bg;
		if (!defaults) {
			fg = fg < 0 ? COLOR_WHITE : fg;
			bg = bg < 0 ? COLOR_BLACK : bg;
		}
		init_pair((short)(i + 1), (short)fg, (short)bg);
	}
	colors_on = true;
}

attr_t theme_attr(enum ui_color c)
{
	if (!colors_on)
		return theme_mono_attr(c);
	return (attr_t)COLOR_PAIR((int)c + 1) | theme_color_attr(c);
}
