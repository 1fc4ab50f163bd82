#include "ui/keymap.h"

#include <curses.h>

static size_t add(struct key_hint *out, size_t n, size_t max, const char *key, const char *label)
{
	if (n < max) {
		out[n].key = key;
		out[n].label = label;
		return n + 1;
	}
	return n;
}

bool keymap_can_start_work(enum engine_phase phase)
{
	return phase == ENGINE_IDLE || phase == ENGINE_FINISHED;
}

static size_t main_hints(const struct key_context *c, struct key_hint *out, size_t max)
{
	size_t n = 0;
	switch (c->phase) {
	case ENGINE_CONFIRM:
		n = add(out, n, max, "y", "yes, do it");
		n = add(out, n, max, "n/Enter/Esc", "no");
		return n;
	case ENGINE_PERSON:
		n = add(out, n, max, "Enter", "done");
		n = add(out, n, max, "Esc", "give up");
		return n;
	case ENGINE_IDLE:
	case ENGINE_FINISHED:
		if (c->phase == ENGINE_IDLE && c->have_step) {
			n = add(out, n, max, "Enter", "step");
			n = add(out, n, max, "a", "run on");
		}
		n = add(out, n, max, "r", "probe");
		if (c->offer_rehearsal)
			n = add(out, n, max, "s", "sim");
		n = add(out, n, max, "w", "wiring");
		n = add(out, n, max, "i", "images");
		break;
	case ENGINE_PROBING:
	case ENGINE_RUNNING:
		n = add(out, n, max, "w", "wiring");
		break;
	}
	n = add(out, n, max, "b", "backup");
	n = add(out, n, max, "l", "log");
	n = add(out, n, max, "?", "help");
	if (c->quit_pending)
		n = add(out, n, max, "q", "quits after this step");
	else
		n = add(out, n, max, "q", c->phase == ENGINE_RUNNING ? "quit..." : "quit");
	return n;
}

size_t keymap_hints(const struct key_context *c, struct key_hint *out, size_t max)
{
	/* Questions from the engine are on top of every screen. */
	if (c->screen == SCREEN_MAIN || c->phase == ENGINE_CONFIRM || c->phase == ENGINE_PERSON)
		return main_hints(c, out, max);
	size_t n = 0;
	n = add(out, n, max, "Up/Down/PgUp/PgDn", "scroll");
	if (c->screen == SCREEN_LOG)
		n = add(out, n, max, "End", "follow");
	n = add(out, n, max, "Esc", "back");
	n = add(out, n, max, "q", "quit");
	return n;
}

enum quit_action keymap_quit_action(enum engine_phase phase)
{
	switch (phase) {
	case ENGINE_IDLE:
	case ENGINE_FINISHED:
		return QUIT_NOW;
	case ENGINE_PROBING:
		return QUIT_STOP_PROBE;
	default:
		return QUIT_REFUSE;
	}
}

bool keymap_is_enter(int key)
{
	return key == '\n' || key == '\r' || key == KEY_ENTER;
}

enum dialog_answer keymap_confirm_key(int key)
{
	if (key == 'y' || key == 'Y')
		return ANSWER_YES;
	if (key == 'n' || key == 'N' || key == 'q' || key == KEY_ESCAPE || keymap_is_enter(key))
		return ANSWER_NO;
	return ANSWER_PENDING;
}

enum dialog_answer keymap_person_key(int key)
{
	if (keymap_is_enter(key))
		return ANSWER_YES;
	if (key == KEY_ESCAPE)
		return ANSWER_NO;
	return ANSWER_PENDING;
}
