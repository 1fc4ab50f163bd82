/* The dashboard's two forms: choosing images (i: bootloader and firmware
 * files, or a VESC Tool firmware tree and the HW name) and picking a
 * scenario to rehearse on the simulated bench (s). Both change the
 * options the engine runs with and ask the loop for a restart. */
#ifndef VR_UI_DIALOG_FORMS_H
#define VR_UI_DIALOG_FORMS_H

#include <stddef.h>

#include "ui/ui.h"

void dialog_images_open(struct ui *ui);
void dialog_images_draw(const struct ui *ui);
/* Returns enum ui_reaction bits (UI_RESTART once the paths check out). */
unsigned dialog_images_key(struct ui *ui, int key);

void dialog_sim_open(struct ui *ui);
void dialog_sim_draw(const struct ui *ui);
unsigned dialog_sim_key(struct ui *ui, int key);

/* "~/x" -> "$HOME/x"; other paths unchanged. */
void dialog_expand_home(const char *path, char *out, size_t cap);

#endif
