/* USB classification is data: every ID the references name, checked one by
 * one, and the libusb enumeration on whatever this machine has. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "probes/usb_probe.h"

struct expected_id {
	uint16_t vid, pid;
	enum usb_kind kind;
	const char *model_part;   /* a piece the model must contain */
	bool unusable;
};

static const struct expected_id expected[] = {
	{0x0483, 0x5740, USB_KIND_VESC_CDC, "CDC", false},
	{0x0483, 0x3744, USB_KIND_STLINK, "V1", true},
	{0x0483, 0x3748, USB_KIND_STLINK, "V2", false},
	{0x0483, 0x374a, USB_KIND_STLINK, "V2-1", false},
	{0x0483, 0x374b, USB_KIND_STLINK, "V2-1", false},
	{0x0483, 0x3752, USB_KIND_STLINK, "V2-1", false},
	{0x0483, 0x374d, USB_KIND_STLINK_BOOT, "bootloader", true},
	{0x0483, 0x374e, USB_KIND_STLINK, "V3", false},
	{0x0483, 0x374f, USB_KIND_STLINK, "V3", false},
	{0x0483, 0x3753, USB_KIND_STLINK, "V3", false},
	{0x0483, 0x3754, USB_KIND_STLINK, "V3", false},
	{0x0483, 0x3755, USB_KIND_STLINK_BOOT, "bootloader", true},
	{0x0483, 0x3757, USB_KIND_STLINK, "V3PWR", false},
	{0x0483, 0xdf11, USB_KIND_STM32_DFU, "DFU", false},
	{0x10c4, 0xea60, USB_KIND_UART_BRIDGE, "CP210", false},
	{0x10c4, 0xea70, USB_KIND_UART_BRIDGE, "CP210", false},
	{0x10c4, 0xea71, USB_KIND_UART_BRIDGE, "CP210", false},
	{0x0403, 0x6001, USB_KIND_UART_BRIDGE, "FT232R", false},
	{0x0403, 0x6010, USB_KIND_UART_BRIDGE, "FT2232", false},
	{0x0403, 0x6014, USB_KIND_UART_BRIDGE, "FT232H", false},
	{0x0403, 0x6015, USB_KIND_UART_BRIDGE, "FT-X", false},
	{0x1a86, 0x7522, USB_KIND_UART_BRIDGE, "CH340", false},
	{0x1a86, 0x7523, USB_KIND_UART_BRIDGE, "CH340", false},
	{0x1a86, 0x5523, USB_KIND_UART_BRIDGE, "CH341", false},
	{0x1a86, 0x55d4, USB_KIND_UART_BRIDGE, "CH9102", false},
	{0x067b, 0x2303, USB_KIND_UART_BRIDGE, "PL2303", false},
	{0x303a, 0x1001, USB_KIND_ESP32, "ESP32", false},
	{0x303a, 0x4001, USB_KIND_ESP32, "ESP32", false},
};

static void every_listed_id_is_classified(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
		const struct expected_id *e = &expected[i];
		struct usb_id_class c = usb_classify(e->vid, e->pid, NULL);
		if (c.kind != e->kind || !strstr(c.model, e->model_part) || c.unusable != e->unusable)
			fail_msg("%04x:%04x classified as %s \"%s\" unusable=%d", e->vid, e->pid,
				 usb_kind_name(c.kind), c.model, c.unusable);
		if (c.unusable)
			assert_non_null(c.advice);
	}
}

static void unknown_ids_are_other(void **state)
{
	(void)state;
	struct usb_id_class c = usb_classify(0x1d6b, 0x0002, "xHCI Host Controller");
	assert_int_equal(c.kind, USB_KIND_OTHER);
	assert_non_null(c.model);
	/* an STMicro ID that is none of the above is not an ST-Link */
	assert_int_equal(usb_classify(0x0483, 0x1234, NULL).kind, USB_KIND_OTHER);
}

static void stlink_virtual_com_ports_are_never_a_vesc(void **state)
{
	(void)state;
	const uint16_t vcp_pids[] = {0x374a, 0x374b, 0x3752, 0x374e, 0x374f, 0x3753, 0x3754, 0x3757};
	for (size_t i = 0; i < sizeof vcp_pids / sizeof vcp_pids[0]; i++) {
		/* even when the product string looks like the VESC's */
		struct usb_id_class c = usb_classify(0x0483, vcp_pids[i], "ChibiOS/RT Virtual COM Port");
		assert_int_equal(c.kind, USB_KIND_STLINK);
		assert_false(usb_is_vesc_candidate(0x0483, vcp_pids[i]));
	}
}

static void advice_says_what_to_do(void **state)
{
	(void)state;
	assert_non_null(strstr(usb_classify(0x0483, 0x374d, NULL).advice, "update"));
	assert_non_null(strstr(usb_classify(0x0483, 0x3755, NULL).advice, "replug"));
	assert_non_null(strstr(usb_classify(0x0483, 0x3744, NULL).advice, "V2"));
	assert_non_null(strstr(usb_classify(0x0483, 0xdf11, NULL).advice, "BOOT0"));
}

static void vesc_product_string_refines_the_model_only(void **state)
{
	(void)state;
	struct usb_id_class c = usb_classify(0x0483, 0x5740, "ChibiOS/RT Virtual COM Port");
	assert_int_equal(c.kind, USB_KIND_VESC_CDC);
	assert_string_equal(c.model, "ChibiOS/RT Virtual COM Port");
	c = usb_classify(0x0483, 0x5740, "Some STM32 gadget");
	assert_int_equal(c.kind, USB_KIND_VESC_CDC);
	assert_null(strstr(c.model, "ChibiOS"));
}

static void candidates_are_vesc_cdc_and_bridges_only(void **state)
{
	(void)state;
	assert_true(usb_is_vesc_candidate(0x0483, 0x5740));
	assert_true(usb_is_vesc_candidate(0x10c4, 0xea60));
	assert_true(usb_is_vesc_candidate(0x1a86, 0x7523));
	assert_true(usb_is_vesc_candidate(0x0403, 0x6015));
	assert_false(usb_is_vesc_candidate(0x0483, 0x3748));
	assert_false(usb_is_vesc_candidate(0x0483, 0xdf11));
	assert_false(usb_is_vesc_candidate(0x303a, 0x1001));
	assert_false(usb_is_vesc_candidate(0x046d, 0xc52b));
}

/* Runs the real libusb path on whatever this machine has (no bus here:
 * zero devices) and checks it comes back with consistent observations. */
static void enumeration_returns_cleanly(void **state)
{
	(void)state;
	static struct observations obs;
	memset(&obs, 0, sizeof obs);
	usb_probe_run(&obs);
	assert_true(obs.n_usb <= OBS_MAX_USB);
	if (obs.usb_error)
		assert_true(strlen(obs.usb_error_text) > 0);
	for (unsigned i = 0; i < obs.n_usb; i++) {
		const struct usb_obs *u = &obs.usb[i];
		assert_int_equal(u->kind, usb_classify(u->vid, u->pid, u->product).kind);
		assert_true(u->path[0] != '\0');
		if (u->access == VR_ERR_ACCESS)
			assert_non_null(strstr(u->error, "--udev-rules"));
	}
	/* twice in a row: no state left behind */
	unsigned first = obs.n_usb;
	memset(&obs, 0, sizeof obs);
	usb_probe_run(&obs);
	assert_int_equal(obs.n_usb, first);
}

static void simulated_devices_are_appended_and_classified(void **state)
{
	(void)state;
	static struct observations obs;
	memset(&obs, 0, sizeof obs);
	struct usb_obs sim[2];
	memset(sim, 0, sizeof sim);
	sim[0].vid = 0x0483;
	sim[0].pid = 0x3748;
	snprintf(sim[0].serial, sizeof sim[0].serial, "SIM0001");
	sim[1].vid = 0x0483;
	sim[1].pid = 0x374d;
	assert_int_equal(usb_probe_add(&obs, sim, 2), 2);
	assert_int_equal(obs.n_usb, 2);
	assert_int_equal(obs.usb[0].kind, USB_KIND_STLINK);
	assert_string_equal(obs.usb[0].model, "ST-LINK/V2");
	assert_string_equal(obs.usb[0].serial, "SIM0001");
	assert_int_equal(obs.usb[1].kind, USB_KIND_STLINK_BOOT);
	assert_int_equal(obs.usb[1].access, VR_ERR_UNSUPPORTED);
	assert_non_null(strstr(obs.usb[1].error, "bootloader"));

	/* never past the end */
	struct usb_obs many[OBS_MAX_USB];
	memset(many, 0, sizeof many);
	assert_int_equal(usb_probe_add(&obs, many, OBS_MAX_USB), OBS_MAX_USB - 2);
	assert_int_equal(obs.n_usb, OBS_MAX_USB);
	assert_int_equal(usb_probe_add(&obs, many, 1), 0);
}

static void tty_listing_is_safe(void **state)
{
	(void)state;
	struct usb_tty ttys[64];
	unsigned n = usb_list_ttys(ttys, 64);
	assert_true(n <= 64);
	for (unsigned i = 0; i < n; i++)
		assert_true(ttys[i].path[0] != '\0');
	struct usb_tty one;
	assert_false(usb_lookup_tty("/dev/ttyDOES_NOT_EXIST", &one));
	assert_false(usb_lookup_tty(NULL, &one));
	/* a pseudo-terminal is never described as a USB device */
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(master >= 0);
	char slave[64];
	assert_int_equal(ptsname_r(master, slave, sizeof slave), 0);
	if (usb_lookup_tty(slave, &one))
		assert_false(one.is_usb);
	close(master);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_listed_id_is_classified),
		cmocka_unit_test(unknown_ids_are_other),
		cmocka_unit_test(stlink_virtual_com_ports_are_never_a_vesc),
		cmocka_unit_test(advice_says_what_to_do),
		cmocka_unit_test(vesc_product_string_refines_the_model_only),
		cmocka_unit_test(candidates_are_vesc_cdc_and_bridges_only),
		cmocka_unit_test(enumeration_returns_cleanly),
		cmocka_unit_test(simulated_devices_are_appended_and_classified),
		cmocka_unit_test(tty_listing_is_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
