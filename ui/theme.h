/* Colours and glyphs of the dashboard, from ONE semantic table.
 *
 * Code names what a thing is (UIC_SECTOR_APP, UIC_ROW_FAILED), never a
 * colour pair. Each entry has a colour column and a monochrome column that
 * uses attributes only, so NO_COLOR, --no-color and colourless terminals
 * still tell a failed row from a done one. Glyphs come in a UTF-8 set (box
 * drawing) and an ASCII set for other locales. */
#ifndef VR_UI_THEME_H
#define VR_UI_THEME_H

#include <stdbool.h>

#include <curses.h>

/* name, foreground, background, colour attributes, monochrome attributes.
 * -1 is the terminal's default colour (use_default_colors). */
#define UI_COLOR_TABLE(C)                                                     \
	C(UIC_NORMAL, -1, -1, A_NORMAL, A_NORMAL)                             \
	C(UIC_HEADER, COLOR_WHITE, COLOR_BLUE, A_BOLD, A_REVERSE)             \
	C(UIC_HEADER_SIM, COLOR_BLACK, COLOR_YELLOW, A_BOLD, A_REVERSE | A_BOLD) \
	C(UIC_BORDER, COLOR_BLUE, -1, A_NORMAL, A_NORMAL)                     \
	C(UIC_TITLE, COLOR_CYAN, -1, A_BOLD, A_BOLD)                          \
	C(UIC_DIM, COLOR_WHITE, -1, A_DIM, A_DIM)                             \
	C(UIC_OK, COLOR_GREEN, -1, A_BOLD, A_BOLD)                            \
	C(UIC_WARN, COLOR_YELLOW, -1, A_BOLD, A_UNDERLINE)                    \
	C(UIC_ERROR, COLOR_RED, -1, A_BOLD, A_BOLD | A_REVERSE)               \
	C(UIC_KEY, COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE)              \
	C(UIC_FOOTER, -1, -1, A_NORMAL, A_NORMAL)                             \
	C(UIC_ROW_DONE, COLOR_GREEN, -1, A_NORMAL, A_NORMAL)                  \
	C(UIC_ROW_CURRENT, COLOR_YELLOW, -1, A_BOLD, A_BOLD | A_REVERSE)      \
	C(UIC_ROW_FAILED, COLOR_RED, -1, A_BOLD, A_BOLD | A_UNDERLINE)        \
	C(UIC_ROW_SKIPPED, COLOR_WHITE, -1, A_DIM, A_DIM)                     \
	C(UIC_ROW_PENDING, -1, -1, A_NORMAL, A_NORMAL)                        \
	C(UIC_SECTOR_BLANK, COLOR_WHITE, -1, A_DIM, A_DIM)                    \
	C(UIC_SECTOR_APP, COLOR_BLACK, COLOR_GREEN, A_NORMAL, A_REVERSE)      \
	C(UIC_SECTOR_CONFIG, COLOR_BLACK, COLOR_CYAN, A_NORMAL, A_REVERSE)    \
	C(UIC_SECTOR_STAGING, COLOR_BLACK, COLOR_BLUE, A_NORMAL, A_NORMAL)    \
	C(UIC_SECTOR_BOOT, COLOR_BLACK, COLOR_MAGENTA, A_BOLD, A_REVERSE | A_BOLD) \
	C(UIC_SECTOR_DATA, COLOR_BLACK, COLOR_WHITE, A_NORMAL, A_UNDERLINE)   \
	C(UIC_SECTOR_PROTECTED, COLOR_WHITE, COLOR_RED, A_BOLD, A_BOLD | A_UNDERLINE) \
	C(UIC_SECTOR_UNKNOWN, COLOR_YELLOW, -1, A_NORMAL, A_NORMAL)           \
	C(UIC_PROGRESS, COLOR_GREEN, -1, A_BOLD, A_BOLD)                      \
	C(UIC_DIALOG, COLOR_WHITE, COLOR_BLUE, A_NORMAL, A_NORMAL)            \
	C(UIC_DIALOG_DANGER, COLOR_WHITE, COLOR_RED, A_BOLD, A_BOLD)          \
	C(UIC_INPUT, COLOR_BLACK, COLOR_WHITE, A_NORMAL, A_UNDERLINE)

enum ui_color {
#define UI_COLOR_ENUM(name, fg, bg, attr, mono) name,
	UI_COLOR_TABLE(UI_COLOR_ENUM)
#undef UI_COLOR_ENUM
	UIC_COUNT_
};

struct ui_glyphs {
	const char *h, *v, *tl, *tr, *bl, *br;      /* box drawing */
	const char *bar_done, *bar_todo;            /* progress bar cells */
	const char *row_done, *row_current, *row_failed, *row_skipped, *row_pending;
	const char *arrow;                          /* "->" in headers */
};

/* Colour is wanted unless --no-color, or NO_COLOR is set and non-empty
 * (no-color.org), or the terminal cannot show colours. */
bool theme_color_wanted(bool no_color_option, const char *no_color_env, bool terminal_has_colors);
/* UTF-8 glyphs only when the locale's codeset is UTF-8 (nl_langinfo). */
bool theme_codeset_is_utf8(const char *codeset);

const struct ui_glyphs *theme_glyphs(bool utf8);

/* The attributes of an element in either column; pure, for tests and for
 * theme_attr. In colour, the pair number is the element's index + 1. */
attr_t theme_mono_attr(enum ui_color c);
attr_t theme_color_attr(enum ui_color c);
int theme_color_fg(enum ui_color c);
int theme_color_bg(enum ui_color c);

/* Needs a curses screen: sets up the pairs when color is true, and
 * records whether text may hold UTF-8 (else draw_text makes it ASCII). */
void theme_start(bool color, bool utf8);
bool theme_utf8(void);
/* What to pass to attrset(): colour pair + attributes, or the mono column. */
attr_t theme_attr(enum ui_color c);

#endif
