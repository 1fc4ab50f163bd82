/* Dialogs over the screens. The engine's questions (a destructive step's
 * confirmation, a request for the person's hands) appear whenever the
 * engine's phase says so; the dashboard's own dialogs (quit refused,
 * backup, images, rehearsal picker) when a key opened them. Each is a trio:
 * open, draw, key. */
#ifndef VR_UI_DIALOGS_H
#define VR_UI_DIALOGS_H

#include <stdbool.h>

#include "ui/ui.h"

void dialogs_open(struct ui *ui, enum ui_dialog dialog);
/* Is a dialog (engine question or own) taking the keys now? */
bool dialogs_active(const struct ui *ui);
void dialogs_draw(const struct ui *ui);
/* A key for the active dialog; returns enum ui_reaction bits. */
unsigned dialogs_key(struct ui *ui, int key);

/* The q key outside dialogs: quit, stop a probe and quit, or refuse while
 * a step runs (opening the dialog that offers "quit when done"). */
unsigned dialogs_quit(struct ui *ui);

/* Clears a centred box of at most h x w, frames it with a title and
 * returns its inside (for the dialogs and the forms). */
struct ui_rect dialogs_box(const struct ui *ui, int h, int w, enum ui_color color, const char *title);

/* Dialogs are at most this wide, so a line stays readable. */
#define DIALOG_W 74

#endif
