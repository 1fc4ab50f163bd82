/* Which keys apply now, and what a key means in the question dialogs.
 * Pure decisions (tests/test_ui_keymap.c): the footer is built from them,
 * and the handlers follow them, so the footer never advertises a key that
 * does nothing. */
#ifndef VR_UI_KEYMAP_H
#define VR_UI_KEYMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"

enum ui_screen { SCREEN_MAIN = 0, SCREEN_LOG, SCREEN_WIRING, SCREEN_HELP, SCREEN_COUNT_ };

struct key_hint {
	const char *key;      /* "Enter", "q" */
	const char *label;    /* "run step" */
};

struct key_context {
	enum engine_phase phase;
	enum ui_screen screen;
	bool have_step;          /* the plan has a current step to run */
	bool offer_rehearsal;    /* live and nothing attached: `s` */
	bool quit_pending;       /* "quit when this step is done" was asked */
};

#define KEYMAP_MAX_HINTS 12

/* The hints for the footer, most important first. */
size_t keymap_hints(const struct key_context *c, struct key_hint *out, size_t max);

/* May a request that starts work (r, Enter, a, i, s) be made in this phase? */
bool keymap_can_start_work(enum engine_phase phase);

enum quit_action {
	QUIT_NOW,            /* nothing runs: leave */
	QUIT_STOP_PROBE,     /* a read-only probe runs: stop it, then leave */
	QUIT_REFUSE,         /* a step runs: refuse, explain, offer "quit when done" */
};
enum quit_action keymap_quit_action(enum engine_phase phase);

enum dialog_answer { ANSWER_PENDING = 0, ANSWER_YES, ANSWER_NO };
/* Destructive confirmations: only y means yes; n, Enter, Esc and q mean
 * no (the default); anything else is ignored. */
enum dialog_answer keymap_confirm_key(int key);
/* Person prompts: Enter means done, Esc gives up. */
enum dialog_answer keymap_person_key(int key);

#define KEY_ESCAPE 27
bool keymap_is_enter(int key);

#endif
