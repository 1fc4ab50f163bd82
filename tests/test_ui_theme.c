/* The colour table (ui/theme.c): one semantic table whose monochrome
 * column uses attributes only and still tells the states apart; NO_COLOR
 * and --no-color; the UTF-8 / ASCII glyph choice. Also the wiring guide's
 * facts that people get wrong (seed 002). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ui/guide.h"
#include "ui/theme.h"

static void test_color_wanted(void **state)
{
	assert_true(theme_color_wanted(false, NULL, true));
	assert_true(theme_color_wanted(false, "", true));       /* empty NO_COLOR does not count */
	assert_false(theme_color_wanted(false, "1", true));
	assert_false(theme_color_wanted(true, NULL, true));
	assert_false(theme_color_wanted(false, NULL, false));
}

static void test_mono_is_attributes_only(void **state)
{
	for (int i = 0; i < UIC_COUNT_; i++) {
		attr_t mono = theme_mono_attr((enum ui_color)i);
		assert_int_equal(mono & A_COLOR, 0);
		assert_int_equal(theme_color_attr((enum ui_color)i) & A_COLOR, 0);
		assert_true(theme_color_fg((enum ui_color)i) >= -1 && theme_color_fg((enum ui_color)i) < 8);
		assert_true(theme_color_bg((enum ui_color)i) >= -1 && theme_color_bg((enum ui_color)i) < 8);
	}
}

/* In monochrome, what must stand out still does. */
static void test_mono_distinguishes(void **state)
{
	assert_true(theme_mono_attr(UIC_ROW_FAILED) != theme_mono_attr(UIC_ROW_DONE));
	assert_true(theme_mono_attr(UIC_ROW_CURRENT) != theme_mono_attr(UIC_ROW_PENDING));
	assert_true(theme_mono_attr(UIC_ERROR) != A_NORMAL);
	assert_true(theme_mono_attr(UIC_WARN) != A_NORMAL);
	assert_true(theme_mono_attr(UIC_KEY) & A_REVERSE);
	assert_true(theme_mono_attr(UIC_HEADER) & A_REVERSE);
	assert_true(theme_mono_attr(UIC_SECTOR_APP) != theme_mono_attr(UIC_SECTOR_BLANK));
}

static void test_codeset(void **state)
{
	assert_true(theme_codeset_is_utf8("UTF-8"));
	assert_true(theme_codeset_is_utf8("utf8"));
	assert_false(theme_codeset_is_utf8("ANSI_X3.4-1968"));
	assert_false(theme_codeset_is_utf8(NULL));
}

static void test_glyphs(void **state)
{
	const struct ui_glyphs *ascii = theme_glyphs(false), *utf8 = theme_glyphs(true);
	const char *ascii_all[] = {ascii->h, ascii->v, ascii->tl, ascii->tr, ascii->bl, ascii->br,
				   ascii->bar_done, ascii->bar_todo, ascii->row_done, ascii->row_current,
				   ascii->row_failed, ascii->row_skipped, ascii->row_pending};
	for (size_t i = 0; i < sizeof ascii_all / sizeof ascii_all[0]; i++)
		for (const char *p = ascii_all[i]; *p; p++)
			assert_true((unsigned char)*p < 128);
	assert_string_equal(utf8->tl, "\u250c");
	assert_string_equal(utf8->h, "\u2500");
}

static bool guide_has(const char *needle)
{
	size_t n;
	const char *const *lines = guide_wiring(&n);
	for (size_t i = 0; i < n; i++)
		if (strstr(lines[i], needle))
			return true;
	return false;
}

static void test_wiring_guide_facts(void **state)
{
	assert_true(guide_has("3.3V   CLK   GND   DIO   RST   SWO"));
	assert_true(guide_has("SWDIO / DIO / SWD"));
	assert_true(guide_has("SWCLK / CLK"));
	assert_true(guide_has("3.3V / VDD"));
	assert_true(guide_has("OWN 3.3 V"));
	assert_true(guide_has("SWIM"));
	assert_true(guide_has("two RST pins"));
	assert_true(guide_has("VTref"));
	assert_true(guide_has("battery"));
	assert_true(guide_has("pin 7"));
	assert_true(guide_has("FOCBOX"));
	size_t n;
	const char *const *lines = guide_wiring(&n);
	for (size_t i = 0; i < n; i++)
		if (strlen(lines[i]) > 78)
			fail_msg("wiring line %zu is wider than an 80-column screen", i);
	lines = guide_help(&n);
	for (size_t i = 0; i < n; i++)
		if (strlen(lines[i]) > 78)
			fail_msg("help line %zu is wider than an 80-column screen", i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_color_wanted),
		cmocka_unit_test(test_mono_is_attributes_only),
		cmocka_unit_test(test_mono_distinguishes),
		cmocka_unit_test(test_codeset),
		cmocka_unit_test(test_glyphs),
		cmocka_unit_test(test_wiring_guide_facts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
