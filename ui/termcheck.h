/* Can the dashboard draw on this terminal? Kept apart because <term.h>
 * defines macros named like ordinary words (lines, columns) that must not
 * leak into the rest of the UI. */
#ifndef VR_UI_TERMCHECK_H
#define VR_UI_TERMCHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Why the dashboard cannot draw here, or NULL when it can. Pure, for
 * tests: term_known is setupterm's verdict, has_cup tigetstr("cup"). */
const char *termcheck_refusal(bool stdin_tty, bool stdout_tty, bool term_known, bool has_cup);

/* The same question asked of fds 0 and 1 and $TERM. When the answer is
 * yes, restore[] receives the terminal's own "leave the full-screen mode,
 * show the cursor, plain attributes" sequence (rmcup cnorm sgr0), for a
 * crash handler that cannot call curses. */
const char *termcheck_here(char *restore, size_t restore_cap);

#endif
