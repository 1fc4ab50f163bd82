#include "ui/termcheck.h"

#include <curses.h>
#include <string.h>
#include <term.h>
#include <unistd.h>

const char *termcheck_refusal(bool stdin_tty, bool stdout_tty, bool term_known, bool has_cup)
{
	if (!stdout_tty)
		return "stdout is not a terminal";
	if (!stdin_tty)
		return "stdin is not a terminal";
	if (!term_known)
		return "the terminal type (TERM) is unknown";
	if (!has_cup)
		return "the terminal (TERM) cannot address the cursor";
	return NULL;
}

static void append_cap(char *out, size_t cap, const char *name)
{
	const char *s = tigetstr(name);
	if (!s || s == (const char *)-1)
		return;
	size_t used = strlen(out), len = strlen(s);
	if (used + len < cap)
		memcpy(out + used, s, len + 1);
}

const char *termcheck_here(char *restore, size_t restore_cap)
{
	if (restore_cap)
		restore[0] = '\0';
	bool in_tty = isatty(STDIN_FILENO), out_tty = isatty(STDOUT_FILENO);
	bool known = false, cup = false;
	if (in_tty && out_tty) {
		int err = 0;
		/* ncurses' measured behaviour: newterm succeeds for TERM=dumb, so
		 * ask the terminfo entry for cursor addressing ourselves. */
		known = setupterm(NULL, STDOUT_FILENO, &err) == OK;
		if (known) {
			const char *cup_cap = tigetstr("cup");
			cup = cup_cap != NULL && cup_cap != (const char *)-1;
			append_cap(restore, restore_cap, "rmcup");
			append_cap(restore, restore_cap, "cnorm");
			append_cap(restore, restore_cap, "sgr0");
			del_curterm(cur_term);
		}
	}
	return termcheck_refusal(in_tty, out_tty, known, cup);
}
