/* Pane geometry (ui/layout.c): every size from 80x24 up gives panes that
 * stay on the screen and do not overlap; below it, "too small". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ui/layout.h"

static bool overlap(struct ui_rect a, struct ui_rect b)
{
	return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

static void check_layout(int rows, int cols)
{
	struct ui_layout l;
	layout_compute(rows, cols, &l);
	assert_false(l.too_small);
	struct ui_rect all[] = {l.header, l.link, l.target, l.plan, l.log, l.status, l.footer};
	size_t n = sizeof all / sizeof all[0];
	int area = 0;
	for (size_t i = 0; i < n; i++) {
		assert_true(all[i].h > 0 && all[i].w > 0);
		assert_true(all[i].x >= 0 && all[i].y >= 0);
		assert_true(all[i].x + all[i].w <= cols);
		assert_true(all[i].y + all[i].h <= rows);
		area += all[i].h * all[i].w;
		for (size_t k = i + 1; k < n; k++)
			if (overlap(all[i], all[k]))
				fail_msg("%dx%d: panes %zu and %zu overlap", cols, rows, i, k);
	}
	/* Nothing wasted: the panes tile the screen. */
	assert_int_equal(area, rows * cols);
	/* The Target pane holds its six lines; Link at least three; the
	 * footer is the last row. */
	assert_true(l.target.h - 2 >= 6);
	assert_true(l.link.h - 2 >= 3);
	assert_true(l.log.h - 2 >= 4);
	assert_int_equal(l.footer.y, rows - 1);
	assert_int_equal(l.status.y, rows - 2);
	/* 12 sector cells of two columns after "Map " fit inside the box. */
	assert_true(l.target.w - 2 >= 4 + 12 * 2);
}

static void test_minimum_and_larger(void **state)
{
	for (int rows = 24; rows <= 70; rows += 3)
		for (int cols = 80; cols <= 250; cols += 17)
			check_layout(rows, cols);
	check_layout(24, 80);
	check_layout(30, 100);
}

static void test_exact_80x24(void **state)
{
	struct ui_layout l;
	layout_compute(24, 80, &l);
	assert_int_equal(l.link.y, 1);
	assert_int_equal(l.plan.x, l.link.w);
	assert_int_equal(l.log.w, 80);
}

static void test_too_small(void **state)
{
	struct ui_layout l;
	layout_compute(20, 60, &l);
	assert_true(l.too_small);
	layout_compute(23, 200, &l);
	assert_true(l.too_small);
	layout_compute(60, 79, &l);
	assert_true(l.too_small);
	assert_int_equal(l.rows, 60);
	assert_int_equal(l.cols, 79);
}

static void test_dialog_fits(void **state)
{
	struct ui_rect r = layout_dialog(24, 80, 40, 200);
	assert_true(r.y >= 0 && r.y + r.h <= 24);
	assert_true(r.x >= 0 && r.x + r.w <= 80);
	r = layout_dialog(24, 80, 10, 74);
	assert_int_equal(r.w, 74);
	assert_int_equal(r.x, 3);
	assert_int_equal(r.y, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimum_and_larger),
		cmocka_unit_test(test_exact_80x24),
		cmocka_unit_test(test_too_small),
		cmocka_unit_test(test_dialog_fits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
