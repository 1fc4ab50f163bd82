/* The main screen: all panes at once, and the keys that start work
 * (r, Enter, a, i, s) or scroll the Log pane (PgUp, PgDn, End). */
#ifndef VR_UI_SCREEN_MAIN_H
#define VR_UI_SCREEN_MAIN_H

#include "ui/ui.h"

void screen_main_init(struct ui *ui);
void screen_main_draw(const struct ui *ui);
/* Returns enum ui_reaction bits. */
unsigned screen_main_key(struct ui *ui, int key);

#endif
