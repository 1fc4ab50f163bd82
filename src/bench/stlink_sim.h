/* A simulated ST-Link (V2 0x3748, V2-1 0x374B, V3 0x374E) in front of the
 * simulated STM32F405: the USB protocol engine of the probe's firmware.
 * Bytes of one bulk OUT transfer go in; the reply bytes wait for the next
 * bulk IN, exactly as the real probe keeps them in its endpoint buffer.
 * Command layouts, reply sizes and status codes follow
 * ../shared/reference/stlink-swd-stm32f4.md §1-§2.
 *
 * Transfers are numbered from 1, both directions counted. Fault injection:
 * timeout_at = N makes transfer N time out (an OUT command is lost, an IN
 * reply never comes); gone_at = N lets transfers 1..N through and fails
 * every later one as an unplugged device; timeout_every = K makes
 * transfers K, 2K, 3K... time out. */
#ifndef VR_BENCH_STLINK_SIM_H
#define VR_BENCH_STLINK_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "usb_transport.h"
#include "bench/timing.h"

struct f4_model;

#define STLINK_SIM_VID 0x0483u
#define STLINK_SIM_PID_V2 0x3748u
#define STLINK_SIM_PID_V2_1 0x374Bu
#define STLINK_SIM_PID_V3 0x374Eu

/* Status bytes (reference §2.3). */
enum stlink_status {
	STLINK_ST_OK = 0x80,
	STLINK_ST_FAULT = 0x81,
	STLINK_ST_CMD_ERROR = 0x08,
	STLINK_ST_GET_IDCODE_ERROR = 0x09,
	STLINK_ST_ALIGNMENT_ERROR = 0x0A,
	STLINK_ST_AP_WAIT = 0x10,
	STLINK_ST_AP_FAULT = 0x11,
	STLINK_ST_AP_ERROR = 0x12,
	STLINK_ST_DP_WAIT = 0x14,
	STLINK_ST_DP_FAULT = 0x15,
	STLINK_ST_DP_ERROR = 0x16,
	STLINK_ST_BAD_AP = 0x1D,
	STLINK_ST_FREQ_NOT_SUPPORTED = 0x41,
	STLINK_ST_UNKNOWN_CMD = 0x42,
};

/* GET_CURRENT_MODE answers. */
enum stlink_mode { STLINK_MODE_DFU = 0, STLINK_MODE_MASS = 1, STLINK_MODE_DEBUG = 2 };

struct stlink_sim_config {
	uint16_t pid;           /* STLINK_SIM_PID_* */
	unsigned jtag_version;  /* J of the firmware: 37 (V2), 40 (V2-1), 7 (V3) */
	bool is_clone;          /* voltage pin is the dongle's own 3.3 V LDO output */
	bool start_in_dfu;      /* GET_CURRENT_MODE says DFU until DFU_EXIT */
	long timeout_at;        /* -1 never */
	long gone_at;           /* -1 never */
	long timeout_every;     /* every K-th transfer times out; 0 never */
	char serial[25];        /* 24 hex digits */
};

/* V2 by default, with the matching firmware version and a fixed serial. */
void stlink_sim_config_defaults(struct stlink_sim_config *cfg, uint16_t pid);

struct stlink_sim;

/* target and clock are not owned and must outlive the simulator. */
struct stlink_sim *stlink_sim_new(const struct stlink_sim_config *cfg, struct f4_model *target,
				  struct bench_clock *clock, const struct bench_timing *timing,
				  struct vr_error *err);
void stlink_sim_free(struct stlink_sim *sim);

enum stlink_xfer { STLINK_XFER_OK = 0, STLINK_XFER_TIMEOUT, STLINK_XFER_GONE };

/* One bulk OUT transfer: a 16-byte command, or the data phase of a write. */
enum stlink_xfer stlink_sim_bulk_out(struct stlink_sim *sim, const uint8_t *buf, size_t len);
/* One bulk IN transfer: up to len bytes of the pending reply. With nothing
 * pending the real probe NAKs until the host times out: STLINK_XFER_TIMEOUT. */
enum stlink_xfer stlink_sim_bulk_in(struct stlink_sim *sim, uint8_t *buf, size_t len,
				    size_t *got);
/* USB port reset: stale replies and a half-received write are dropped. */
void stlink_sim_usb_reset(struct stlink_sim *sim);

bool stlink_sim_is_gone(const struct stlink_sim *sim);
uint64_t stlink_sim_transfer_count(const struct stlink_sim *sim);
enum stlink_mode stlink_sim_mode(const struct stlink_sim *sim);
const struct stlink_sim_config *stlink_sim_get_config(const struct stlink_sim *sim);
/* Time passes with no transfer (the host sleeping between polls, a host
 * waiting out a timeout): the target makes progress. */
void stlink_sim_pass_time(struct stlink_sim *sim, uint64_t us);

/* USB layout of the probe, per PID (reference §1.1). */
uint8_t stlink_sim_ep_out(uint16_t pid);
uint8_t stlink_sim_ep_in(uint16_t pid);
uint8_t stlink_sim_ep_trace(uint16_t pid);
/* "ST-LINK/V2" */
const char *stlink_sim_model_name(uint16_t pid);

/* The simulator as a usb_transport for in-process use. The transport does
 * not own the simulator: closing it only releases the claim. */
void stlink_sim_transport(struct stlink_sim *sim, struct usb_transport *out);

#endif
