/* The scenario table (CONTRACTS.md §2 names) and its "name,k=v" parser, and
 * the bench timing model (bench-timing.md figures). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "bench/scenario.h"
#include "bench/timing.h"

static const char *const contract_names[] = {
	"healthy",   "old-fw",     "no-bootloader", "corrupt-app",  "blank",        "swd-lockout",
	"no-nrst",   "rdp1",       "wrp",           "unpowered",    "miswired",     "probe-dfu",
	"probe-busy", "probe-access", "uart-wrong-baud", "usb-noise",
};
enum { CONTRACT_COUNT = sizeof contract_names / sizeof contract_names[0] };

static void table_has_every_contract_name(void **state)
{
	(void)state;
	assert_int_equal(bench_scenario_count(), CONTRACT_COUNT);
	for (size_t i = 0; i < CONTRACT_COUNT; i++) {
		struct bench_scenario sc;
		struct vr_error err = {0};
		assert_int_equal(bench_scenario_parse(contract_names[i], &sc, &err), VR_OK);
		assert_string_equal(sc.name, contract_names[i]);
		assert_non_null(sc.summary);
		assert_true(strlen(sc.summary) > 10 && strchr(sc.summary, '\n') == NULL);
		/* only the lockout scenarios have an app that disables SWD */
		bool locks = strcmp(sc.name, "swd-lockout") == 0 || strcmp(sc.name, "no-nrst") == 0;
		assert_int_equal(sc.app_locks_swd, locks);
	}
	assert_null(bench_scenario_at(CONTRACT_COUNT));
	assert_string_equal(bench_scenario_at(0)->name, "healthy");
}

static void defaults_and_specifics(void **state)
{
	(void)state;
	struct bench_scenario sc;
	struct vr_error err = {0};
	assert_int_equal(bench_scenario_parse("healthy", &sc, &err), VR_OK);
	assert_int_equal(sc.fw_major, 6);
	assert_int_equal(sc.fw_minor, 5);
	assert_string_equal(sc.hw_name, "60");
	assert_true(sc.vdd > 3.2 && sc.vdd < 3.4);
	assert_true(sc.swd_wired && sc.nrst_wired);
	assert_int_equal(sc.optcr, 0x0FFFAAEDu);
	assert_int_equal(sc.probe, PROBE_OK);
	assert_int_equal(sc.probe_pid, 0x3748);
	assert_true(sc.probe_is_clone);
	assert_int_equal(sc.usb_timeout_at, -1);
	assert_int_equal(sc.usb_gone_at, -1);
	assert_int_equal(sc.flash, FLASH_HEALTHY);
	assert_string_equal(sc.state_file, "");

	assert_int_equal(bench_scenario_parse("old-fw", &sc, &err), VR_OK);
	assert_int_equal(sc.fw_major, 2);
	assert_int_equal(sc.fw_minor, 18);
	assert_int_equal(bench_scenario_parse("no-nrst", &sc, &err), VR_OK);
	assert_false(sc.nrst_wired);
	assert_int_equal(bench_scenario_parse("rdp1", &sc, &err), VR_OK);
	uint32_t rdp = sc.optcr >> 8 & 0xFF;
	assert_true(rdp != 0xAA && rdp != 0xCC);
	assert_int_equal(bench_scenario_parse("wrp", &sc, &err), VR_OK);
	assert_int_not_equal(sc.optcr >> 16 & 0xFFF, 0xFFF);
	assert_int_equal(bench_scenario_parse("unpowered", &sc, &err), VR_OK);
	assert_true(sc.vdd == 0.0);
	assert_int_equal(bench_scenario_parse("miswired", &sc, &err), VR_OK);
	assert_false(sc.swd_wired);
	assert_int_equal(bench_scenario_parse("blank", &sc, &err), VR_OK);
	assert_int_equal(sc.flash, FLASH_BLANK);
	assert_int_equal(bench_scenario_parse("probe-access", &sc, &err), VR_OK);
	assert_int_equal(sc.probe, PROBE_NO_ACCESS);
	assert_int_equal(bench_scenario_parse("uart-wrong-baud", &sc, &err), VR_OK);
	assert_int_equal(sc.link, VESC_LINK_UART_WRONG_BAUD);
	assert_int_not_equal(sc.uart_baud, 115200);
}

static void parameters(void **state)
{
	(void)state;
	struct bench_scenario sc;
	struct vr_error err = {0};
	assert_int_equal(bench_scenario_parse("corrupt-app,fw=5.03,hw=75_300,time-scale=0.1,usb-timeout-at=12,"
					      "usb-gone-at=40,state=/tmp/chip.state",
					      &sc, &err),
			 VR_OK);
	assert_int_equal(sc.flash, FLASH_CORRUPT_APP);
	assert_int_equal(sc.fw_major, 5);
	assert_int_equal(sc.fw_minor, 3);
	assert_string_equal(sc.hw_name, "75_300");
	assert_true(sc.time_scale > 0.099 && sc.time_scale < 0.101);
	assert_int_equal(sc.usb_timeout_at, 12);
	assert_int_equal(sc.usb_gone_at, 40);
	assert_string_equal(sc.state_file, "/tmp/chip.state");
	/* the table itself is not changed by parameters */
	assert_int_equal(bench_scenario_at(3)->fw_major, 6);
}

static void expect_usage(const char *spec, const char *must_mention)
{
	struct bench_scenario sc;
	memset(&sc, 0x5A, sizeof sc);
	struct vr_error err = {0};
	assert_int_equal(bench_scenario_parse(spec, &sc, &err), VR_ERR_USAGE);
	assert_int_equal(err.code, VR_ERR_USAGE);
	if (!strstr(err.msg, must_mention))
		fail_msg("message for \"%s\" lacks \"%s\": %s", spec, must_mention, err.msg);
}

static void errors_list_what_is_valid(void **state)
{
	(void)state;
	expect_usage("healty", "swd-lockout");
	expect_usage("healty", "healthy");
	expect_usage("", "list");
	expect_usage(",fw=6.05", "healthy");
	expect_usage("healthy,speed=3", "time-scale=");
	expect_usage("healthy,fw", "fw=MAJOR.MINOR");
	expect_usage("healthy,fw=6", "6.05");
	expect_usage("healthy,fw=6.05x", "6.05");
	expect_usage("healthy,fw=abc", "6.05");
	expect_usage("healthy,time-scale=-1", "time-scale");
	expect_usage("healthy,time-scale=fast", "time-scale");
	expect_usage("healthy,usb-timeout-at=x", "usb-timeout-at");
	expect_usage("healthy,usb-gone-at=-2", "usb-gone-at");
	expect_usage("healthy,hw=", "hw");
	char longname[600];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	expect_usage(longname, "too long");
}

static void timing_figures(void **state)
{
	(void)state;
	struct bench_timing t;
	bench_timing_defaults(&t);
	assert_int_equal(t.usb_round_trip_us, 1000);
	assert_int_equal(t.word_program_us, 16);
	assert_int_equal(bench_timing_erase_us(&t, 16 * 1024, 2), 250000);
	assert_int_equal(bench_timing_erase_us(&t, 64 * 1024, 2), 550000);
	assert_int_equal(bench_timing_erase_us(&t, 128 * 1024, 2), 1000000);
	assert_int_equal(bench_timing_erase_us(&t, 128 * 1024, 1), 1300000);
	assert_int_equal(bench_timing_erase_us(&t, 128 * 1024, 0), 2000000);
	assert_int_equal(bench_timing_erase_us(&t, 16 * 1024, 0), 500000);
	assert_int_equal(bench_timing_mass_erase_us(&t, 2), 8000000);
	assert_int_equal(bench_timing_mass_erase_us(&t, 0), 16000000);
	assert_int_equal(bench_timing_mass_erase_us(&t, 1), 10400000);
}

static double seconds_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void clock_sleeps_only_when_scaled(void **state)
{
	(void)state;
	struct bench_clock c = {0};
	double t0 = seconds_now();
	bench_clock_advance(&c, 10000000u);   /* 10 modeled seconds, no scale */
	assert_true(seconds_now() - t0 < 0.5);
	assert_int_equal(c.now_us, 10000000u);
	/* scale 0.1: 5000 advances of 1 us = 5 ms modeled = 0.5 ms real, in
	 * 100 ns pieces that must add up rather than vanish */
	c.time_scale = 0.1;
	t0 = seconds_now();
	for (int i = 0; i < 5000; i++)
		bench_clock_advance(&c, 1);
	double slept = seconds_now() - t0;
	assert_int_equal(c.now_us, 10005000u);
	assert_true(slept >= 0.0005 * 0.9);
	t0 = seconds_now();
	bench_clock_advance(&c, 200000);   /* 0.2 s at 0.1 = 20 ms */
	slept = seconds_now() - t0;
	assert_true(slept >= 0.019 && slept < 0.5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table_has_every_contract_name),
		cmocka_unit_test(defaults_and_specifics),
		cmocka_unit_test(parameters),
		cmocka_unit_test(errors_list_what_is_valid),
		cmocka_unit_test(timing_figures),
		cmocka_unit_test(clock_sleeps_only_when_scaled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
