/* The simulated bench as one object: the STM32F405 model, the simulated
 * ST-Link in front of it, and the pty VESC that answers only while the
 * simulated flash holds a bootable application. Serves --sim and the tests. */
#ifndef VR_BENCH_BENCH_H
#define VR_BENCH_BENCH_H

#include <stdbool.h>

#include "errors.h"
#include "observe.h"
#include "usb_transport.h"
#include "bench/scenario.h"
#include "bench/timing.h"

struct bench;
struct f4_model;

vr_err bench_open(const struct bench_scenario *sc, struct bench **out, struct vr_error *err);
/* Saves state (state= parameter) and tears everything down. */
void bench_close(struct bench *b);

const struct bench_scenario *bench_scenario(const struct bench *b);
struct f4_model *bench_target(struct bench *b);
struct bench_clock *bench_clock(struct bench *b);

/* The simulated ST-Link as a transport; fails as the scenario says
 * (VR_ERR_NO_DEVICE absent, VR_ERR_BUSY, VR_ERR_ACCESS). */
vr_err bench_open_stlink(struct bench *b, struct usb_transport *out, struct vr_error *err);

/* The pty path of the VESC's USB CDC port, or NULL while it does not
 * enumerate (blank or corrupt application). */
const char *bench_vesc_port(struct bench *b);
/* The pty of the UART adapter wired to the VESC's COMM header, or NULL. */
const char *bench_uart_port(struct bench *b);

/* What a libusb enumeration would list on this bench. */
unsigned bench_usb_devices(struct bench *b, struct usb_obs *out, unsigned max);

/* The modeled clock, and letting modeled time pass with no transfer (a host
 * sleeping while the flash works). */
uint64_t bench_now_us(struct bench *b);
void bench_pass_time(struct bench *b, uint64_t us);

/* Re-evaluates the simulated flash after the target was reset or run
 * (the VESC boots, or its port disappears). */
void bench_target_changed(struct bench *b);

#endif
