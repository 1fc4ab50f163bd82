/* Key decisions (ui/keymap.c, ui/lineedit.c, ui/termcheck.c): the footer
 * lists the keys that apply in each phase; destructive confirmations need
 * an explicit y; quitting during a step is refused; the image path field
 * edits; the dashboard refuses terminals it cannot draw on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <curses.h>

#include "ui/keymap.h"
#include "ui/lineedit.h"
#include "ui/termcheck.h"

static bool footer_has(const struct key_context *c, const char *key)
{
	struct key_hint hints[KEYMAP_MAX_HINTS];
	size_t n = keymap_hints(c, hints, KEYMAP_MAX_HINTS);
	for (size_t i = 0; i < n; i++)
		if (strcmp(hints[i].key, key) == 0)
			return true;
	return false;
}

static void test_footer_idle(void **state)
{
	struct key_context c = {.phase = ENGINE_IDLE, .screen = SCREEN_MAIN, .have_step = true};
	assert_true(footer_has(&c, "Enter"));
	assert_true(footer_has(&c, "a"));
	assert_true(footer_has(&c, "r"));
	assert_true(footer_has(&c, "w"));
	assert_true(footer_has(&c, "i"));
	assert_true(footer_has(&c, "q"));
	assert_false(footer_has(&c, "s"));
	c.offer_rehearsal = true;
	assert_true(footer_has(&c, "s"));
	c.have_step = false;
	assert_false(footer_has(&c, "Enter"));
}

static void test_footer_running(void **state)
{
	struct key_context c = {.phase = ENGINE_RUNNING, .screen = SCREEN_MAIN, .have_step = true};
	/* Nothing that starts work while a step runs. */
	assert_false(footer_has(&c, "Enter"));
	assert_false(footer_has(&c, "r"));
	assert_false(footer_has(&c, "i"));
	assert_true(footer_has(&c, "w"));
	assert_true(footer_has(&c, "q"));
	assert_false(keymap_can_start_work(ENGINE_RUNNING));
	assert_false(keymap_can_start_work(ENGINE_PROBING));
	assert_true(keymap_can_start_work(ENGINE_IDLE));
	assert_true(keymap_can_start_work(ENGINE_FINISHED));
}

static void test_footer_questions_win(void **state)
{
	struct key_context c = {.phase = ENGINE_CONFIRM, .screen = SCREEN_WIRING};
	assert_true(footer_has(&c, "y"));
	assert_false(footer_has(&c, "q"));
	assert_false(footer_has(&c, "Esc"));
	c.phase = ENGINE_PERSON;
	assert_true(footer_has(&c, "Enter"));
	assert_true(footer_has(&c, "Esc"));
	c.phase = ENGINE_IDLE;
	assert_true(footer_has(&c, "Esc"));   /* the pager's "back" */
}

static void test_footer_fits_80_columns(void **state)
{
	enum engine_phase phases[] = {ENGINE_IDLE, ENGINE_PROBING, ENGINE_RUNNING, ENGINE_CONFIRM,
				      ENGINE_PERSON, ENGINE_FINISHED};
	for (size_t i = 0; i < sizeof phases / sizeof phases[0]; i++) {
		struct key_context c = {.phase = phases[i], .have_step = true, .offer_rehearsal = true};
		struct key_hint hints[KEYMAP_MAX_HINTS];
		size_t n = keymap_hints(&c, hints, KEYMAP_MAX_HINTS), width = 0;
		for (size_t k = 0; k < n; k++)
			width += strlen(hints[k].key) + strlen(hints[k].label) + 2;
		/* No space after the last hint. */
		if (width - 1 > 80)
			fail_msg("phase %d: footer needs %zu columns", (int)phases[i], width);
	}
}

static void test_confirm_needs_y(void **state)
{
	assert_int_equal(keymap_confirm_key('y'), ANSWER_YES);
	assert_int_equal(keymap_confirm_key('Y'), ANSWER_YES);
	assert_int_equal(keymap_confirm_key('n'), ANSWER_NO);
	assert_int_equal(keymap_confirm_key('\r'), ANSWER_NO);   /* the default is No */
	assert_int_equal(keymap_confirm_key('\n'), ANSWER_NO);
	assert_int_equal(keymap_confirm_key(KEY_ENTER), ANSWER_NO);
	assert_int_equal(keymap_confirm_key(KEY_ESCAPE), ANSWER_NO);
	assert_int_equal(keymap_confirm_key(' '), ANSWER_PENDING);
	assert_int_equal(keymap_confirm_key('a'), ANSWER_PENDING);
	assert_int_equal(keymap_confirm_key(KEY_RESIZE), ANSWER_PENDING);
	assert_int_equal(keymap_person_key('\r'), ANSWER_YES);
	assert_int_equal(keymap_person_key(KEY_ESCAPE), ANSWER_NO);
	assert_int_equal(keymap_person_key('y'), ANSWER_PENDING);
}

static void test_quit_policy(void **state)
{
	assert_int_equal(keymap_quit_action(ENGINE_IDLE), QUIT_NOW);
	assert_int_equal(keymap_quit_action(ENGINE_FINISHED), QUIT_NOW);
	assert_int_equal(keymap_quit_action(ENGINE_PROBING), QUIT_STOP_PROBE);
	assert_int_equal(keymap_quit_action(ENGINE_RUNNING), QUIT_REFUSE);
	assert_int_equal(keymap_quit_action(ENGINE_CONFIRM), QUIT_REFUSE);
	assert_int_equal(keymap_quit_action(ENGINE_PERSON), QUIT_REFUSE);
}

static void type(struct line_edit *le, const char *s)
{
	for (; *s; s++)
		assert_true(lineedit_key(le, (unsigned char)*s));
}

static void test_lineedit(void **state)
{
	struct line_edit le;
	lineedit_set(&le, "/tmp/bl.bin");
	assert_int_equal(le.cursor, strlen("/tmp/bl.bin"));
	lineedit_key(&le, KEY_BACKSPACE);
	lineedit_key(&le, KEY_BACKSPACE);
	lineedit_key(&le, KEY_BACKSPACE);
	type(&le, "hex");
	assert_string_equal(le.text, "/tmp/bl.hex");
	lineedit_key(&le, KEY_HOME);
	type(&le, "~");
	assert_string_equal(le.text, "~/tmp/bl.hex");
	lineedit_key(&le, KEY_DC);
	assert_string_equal(le.text, "~tmp/bl.hex");
	lineedit_key(&le, KEY_LEFT);
	lineedit_key(&le, KEY_LEFT);   /* stays at 0 */
	assert_int_equal(le.cursor, 0);
	lineedit_key(&le, KEY_BACKSPACE);  /* nothing before the cursor */
	assert_string_equal(le.text, "~tmp/bl.hex");
	lineedit_key(&le, 21);  /* ^U */
	assert_string_equal(le.text, "");
	/* Enter, Esc, Tab belong to the form. */
	assert_false(lineedit_key(&le, '\r'));
	assert_false(lineedit_key(&le, KEY_ESCAPE));
	assert_false(lineedit_key(&le, '\t'));
	/* A full field swallows keys without overflowing. */
	for (int i = 0; i < LINEEDIT_CAP + 10; i++)
		lineedit_key(&le, 'x');
	assert_int_equal(le.len, LINEEDIT_CAP - 1);
	assert_int_equal(strlen(le.text), LINEEDIT_CAP - 1);
}

static void test_terminal_refusal(void **state)
{
	assert_null(termcheck_refusal(true, true, true, true));
	assert_string_equal(termcheck_refusal(true, false, true, true), "stdout is not a terminal");
	assert_string_equal(termcheck_refusal(false, true, true, true), "stdin is not a terminal");
	assert_non_null(termcheck_refusal(true, true, false, false));
	assert_string_equal(termcheck_refusal(true, true, true, false),
			    "the terminal (TERM) cannot address the cursor");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_footer_idle),
		cmocka_unit_test(test_footer_running),
		cmocka_unit_test(test_footer_questions_win),
		cmocka_unit_test(test_footer_fits_80_columns),
		cmocka_unit_test(test_confirm_needs_y),
		cmocka_unit_test(test_quit_policy),
		cmocka_unit_test(test_lineedit),
		cmocka_unit_test(test_terminal_refusal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
