/* Drawing primitives on stdscr: clipped text, boxes, filled areas, a
 * scrolling list of lines. Only the loop's draw pass calls these. */
#ifndef VR_UI_DRAW_H
#define VR_UI_DRAW_H

#include <stddef.h>

#include "ui/layout.h"
#include "ui/theme.h"

/* Text at (y, x), cut to width columns; returns the columns written. */
int draw_text(int y, int x, int width, enum ui_color color, const char *text);
/* Like draw_text, and pads with spaces to width. */
void draw_line(int y, int x, int width, enum ui_color color, const char *text);
void draw_fill(struct ui_rect r, enum ui_color color);
/* A box with a title in its top border. */
void draw_box(struct ui_rect r, const struct ui_glyphs *g, enum ui_color color, const char *title);
/* Word-wrapped text inside r, from line `first` of the wrap; returns the
 * number of lines the text needs. */
int draw_wrapped(struct ui_rect r, enum ui_color color, const char *text);

#endif
