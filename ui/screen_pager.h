/* The full-screen pagers: the transcript (l), the wiring guide (w) and
 * the help (?). Up/Down/PgUp/PgDn/Home/End scroll; the transcript follows
 * its tail until scrolled back. */
#ifndef VR_UI_SCREEN_PAGER_H
#define VR_UI_SCREEN_PAGER_H

#include "ui/ui.h"

/* Wraps the transcript for the current width (before a draw). */
void screen_pager_prepare(struct ui *ui);
void screen_pager_init(struct ui *ui);
void screen_pager_draw(const struct ui *ui);
/* Returns enum ui_reaction bits. */
unsigned screen_pager_key(struct ui *ui, int key);

#endif
