/* The panes of the main screen: header, Link, Target (with the sector
 * map), Plan, Log and the status line. Each draws one rectangle from the
 * engine's view; nothing here changes state. */
#ifndef VR_UI_PANES_H
#define VR_UI_PANES_H

#include "ui/ui.h"

void panes_header(const struct ui *ui, struct ui_rect r);
void panes_link(const struct ui *ui, struct ui_rect r);
void panes_target(const struct ui *ui, struct ui_rect r);
void panes_plan(const struct ui *ui, struct ui_rect r);
void panes_log(const struct ui *ui, struct ui_rect r);
/* The progress bar while a step runs, else the latest message. */
void panes_status(const struct ui *ui, struct ui_rect r);

/* The index of the plan's current row, -1 when there is none. */
int panes_current_row(const struct engine_view *v);

#endif
