#include "ui/draw.h"

#include <stdio.h>
#include <string.h>

#include "ui/format.h"

int draw_text(int y, int x, int width, enum ui_color color, const char *text)
{
	if (width <= 0 || y < 0 || x < 0)
		return 0;
	char ascii[512];
	if (!theme_utf8()) {
		fmt_ascii(text, ascii, sizeof ascii);
		text = ascii;
	}
	size_t cols = fmt_columns(text);
	if (cols > (size_t)width)
		cols = (size_t)width;
	size_t bytes = fmt_prefix_bytes(text, cols);
	attrset(theme_attr(color));
	mvaddnstr(y, x, text, (int)bytes);
	attrset(A_NORMAL);
	return (int)cols;
}

void draw_line(int y, int x, int width, enum ui_color color, const char *text)
{
	int used = draw_text(y, x, width, color, text);
	attrset(theme_attr(color));
	for (int i = used; i < width; i++)
		mvaddch(y, x + i, ' ');
	attrset(A_NORMAL);
}

void draw_fill(struct ui_rect r, enum ui_color color)
{
	for (int row = 0; row < r.h; row++)
		draw_line(r.y + row, r.x, r.w, color, "");
}

void draw_box(struct ui_rect r, const struct ui_glyphs *g, enum ui_color color, const char *title)
{
	if (r.h < 2 || r.w < 2)
		return;
	attrset(theme_attr(color));
	mvaddstr(r.y, r.x, g->tl);
	mvaddstr(r.y + r.h - 1, r.x, g->bl);
	for (int x = r.x + 1; x < r.x + r.w - 1; x++) {
		mvaddstr(r.y, x, g->h);
		mvaddstr(r.y + r.h - 1, x, g->h);
	}
	mvaddstr(r.y, r.x + r.w - 1, g->tr);
	mvaddstr(r.y + r.h - 1, r.x + r.w - 1, g->br);
	for (int y = r.y + 1; y < r.y + r.h - 1; y++) {
		mvaddstr(y, r.x, g->v);
		mvaddstr(y, r.x + r.w - 1, g->v);
	}
	attrset(A_NORMAL);
	if (title && title[0] && r.w > 6) {
		char label[96];
		snprintf(label, sizeof label, " %s ", title);
		draw_text(r.y, r.x + 2, r.w - 4, UIC_TITLE, label);
	}
}

#define WRAP_MAX_LINES 40
#define WRAP_LINE_CAP 256

int draw_wrapped(struct ui_rect r, enum ui_color color, const char *text)
{
	char lines[WRAP_MAX_LINES][WRAP_LINE_CAP];
	if (r.w <= 0)
		return 0;
	size_t n = fmt_wrap(text, (size_t)r.w, &lines[0][0], WRAP_LINE_CAP, WRAP_MAX_LINES);
	for (size_t i = 0; i < n && (int)i < r.h; i++)
		draw_text(r.y + (int)i, r.x, r.w, color, lines[i]);
	return (int)n;
}
