/* Modeled step times against the datasheet arithmetic of
 * shared/reference/stlink-swd-stm32f4.md §6.4, worked out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "plan_time.h"

static struct plan_step step_of(enum plan_step_kind kind, uint16_t sectors, uint32_t bytes)
{
	struct plan_step s;
	memset(&s, 0, sizeof s);
	s.kind = kind;
	s.sectors = sectors;
	s.bytes = bytes;
	return s;
}

static void erases_follow_the_datasheet(void **state)
{
	(void)state;
	struct plan_step mass = step_of(STEP_MASS_ERASE, 0, 0);
	assert_float_equal(plan_step_modeled_s(&mass), 8.0, 1e-9);
	/* keep-config: sectors 0, 3 (16 KB), 4 (64 KB), 5-7 (128 KB), 11 */
	struct plan_step keep = step_of(STEP_SECTOR_ERASE, 0x0F9 | 1u << 11, 0);
	assert_float_equal(plan_step_modeled_s(&keep), 0.25 * 2 + 0.55 + 1.0 * 4, 1e-9);
}

static void programming_is_paced_by_the_slower_side(void **state)
{
	(void)state;
	/* 524280 bytes: flash 131070 words x 16 us = 2.097 s; USB 0.524 s +
	 * 85 commands x 2 ms = 0.695 s; flash is slower. */
	struct plan_step fw = step_of(STEP_WRITE_FIRMWARE, 0, 524280);
	assert_float_equal(plan_step_modeled_s(&fw), 524280 / 4.0 * 16e-6 + 0.02, 1e-9);
	struct plan_step none = step_of(STEP_POWER_CYCLE, 0, 0);
	assert_float_equal(plan_step_modeled_s(&none), 0.0, 1e-9);
}

static void text_forms(void **state)
{
	(void)state;
	char t[16];
	plan_time_text(8.0, t, sizeof t);
	assert_string_equal(t, "8.0 s");
	plan_time_text(12.4, t, sizeof t);
	assert_string_equal(t, "12 s");
	plan_time_text(0.01, t, sizeof t);
	assert_string_equal(t, "<0.1 s");
	plan_time_text(0, t, sizeof t);
	assert_string_equal(t, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(erases_follow_the_datasheet),
		cmocka_unit_test(programming_is_paced_by_the_slower_side),
		cmocka_unit_test(text_forms),
	};
	return cmocka_run_group_tests_name("plan_time", tests, NULL, NULL);
}
