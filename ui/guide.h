/* The static texts of the dashboard: the wiring guide and the help screen.
 * Kept apart from the drawing so the facts can be read and reviewed (and
 * tested for the labels that seed 002 shows people get wrong). */
#ifndef VR_UI_GUIDE_H
#define VR_UI_GUIDE_H

#include <stddef.h>

const char *const *guide_wiring(size_t *n_lines);
const char *const *guide_help(size_t *n_lines);

#endif
