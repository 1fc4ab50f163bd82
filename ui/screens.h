/* The dashboard's screens: main (header, Link, Target, Plan, Log, status,
 * footer), log, wiring guide and help (full-screen pagers), and the
 * "terminal too small" screen. Each screen is a trio: init, draw, key. */
#ifndef VR_UI_SCREENS_H
#define VR_UI_SCREENS_H

#include "ui/ui.h"

/* Opens a screen (SCREEN_MAIN closes the others). */
void screens_open(struct ui *ui, enum ui_screen screen);
/* Brings derived state up to date before a draw (the wrapped log), so
 * that drawing itself changes nothing. */
void screens_prepare(struct ui *ui);
/* Draws the current screen, or the too-small screen. */
void screens_draw(const struct ui *ui);
/* A key for the current screen; returns enum ui_reaction bits. */
unsigned screens_key(struct ui *ui, int key);
/* The footer for the current state, on the last row. */
void screens_draw_footer(const struct ui *ui, struct ui_rect r);

/* Is nothing attached on a live bench (the moment to offer `s`)? */
bool screens_offer_rehearsal(const struct engine_view *v);
/* The progress with the time since the engine last reported added to a
 * timed step's elapsed time, so an erase's clock keeps moving. */
struct engine_progress screens_live_progress(const struct ui *ui);

#endif
