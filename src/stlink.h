/* The ST-Link driver (V2, V2-1, V3) as an SWD probe (swd_probe.h), over a
 * usb_transport (libusb or the simulated bench).
 *
 * Facts: ../shared/reference/stlink-swd-stm32f4.md §1-§3, §7, §8.1. The
 * command encoders and reply decoders are small pure functions so that the
 * byte layouts can be tested without USB. */
#ifndef VR_STLINK_H
#define VR_STLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "swd_probe.h"
#include "usb_transport.h"

#define STLINK_CMD_SIZE 16
/* Largest 32-bit memory transfer per command: OpenOCD's STLINK_DATA_SIZE,
 * the probe's internal buffer. */
#define STLINK_MAX_BLOCK 6144u
/* The TAR auto-increment boundary that is safe on every AHB-AP. */
#define STLINK_TAR_BOUNDARY 1024u
#define STLINK_MAX_RW8_V2 64u
#define STLINK_MAX_RW8_V3 512u
/* Oldest V2 JTAG/SWD firmware we drive: GET_TARGET_VOLTAGE arrived in J13. */
#define STLINK_V2_MIN_JTAG 13
#define STLINK_WAIT_ATTEMPTS 8

/* ---- status bytes (reference §2.3) ---------------------------------- */
enum {
	STLINK_STATUS_OK = 0x80,
	STLINK_STATUS_FAULT = 0x81,
	STLINK_STATUS_NO_DEVICE = 0x05,
	STLINK_STATUS_GET_IDCODE_ERROR = 0x09,
	STLINK_STATUS_DEBUG_POWER_ERROR = 0x0B,
	STLINK_STATUS_WRITE_ERROR = 0x0C,
	STLINK_STATUS_WRITE_VERIFY_ERROR = 0x0D,
	STLINK_STATUS_AP_WAIT = 0x10,
	STLINK_STATUS_AP_FAULT = 0x11,
	STLINK_STATUS_AP_ERROR = 0x12,
	STLINK_STATUS_AP_PARITY = 0x13,
	STLINK_STATUS_DP_WAIT = 0x14,
	STLINK_STATUS_DP_FAULT = 0x15,
	STLINK_STATUS_DP_ERROR = 0x16,
	STLINK_STATUS_DP_PARITY = 0x17,
	STLINK_STATUS_AP_WDATA = 0x18,
	STLINK_STATUS_AP_STICKY = 0x19,
	STLINK_STATUS_AP_STICKY_ORUN = 0x1A,
	STLINK_STATUS_BAD_AP = 0x1D,
	STLINK_STATUS_FREQ_UNSUPPORTED = 0x41,
	STLINK_STATUS_UNKNOWN_CMD = 0x42,
};

enum stlink_status_class {
	STLINK_CLASS_OK = 0,
	STLINK_CLASS_WAIT,    /* target busy: retry with backoff */
	STLINK_CLASS_FAULT,   /* the access faulted: sticky errors to clear */
	STLINK_CLASS_ERROR,   /* anything else the probe refused */
};

enum stlink_status_class stlink_status_class(uint8_t status);
/* "SWD_AP_FAULT", "OK", "unknown status" */
const char *stlink_status_name(uint8_t status);

/* ---- probe modes (GET_CURRENT_MODE reply[0]) ------------------------ */
enum stlink_probe_mode {
	STLINK_PMODE_DFU = 0,
	STLINK_PMODE_MASS = 1,
	STLINK_PMODE_DEBUG = 2,
	STLINK_PMODE_SWIM = 3,
	STLINK_PMODE_BOOTLOADER = 4,
};

/* ---- versions -------------------------------------------------------- */
enum stlink_api { STLINK_API_V1 = 1, STLINK_API_V2 = 2, STLINK_API_V3 = 3 };

enum stlink_feature {
	STLINK_F_VOLTAGE = 1u << 0,        /* GET_TARGET_VOLTAGE (V2 J13) */
	STLINK_F_RWSTATUS2 = 1u << 1,      /* GETLASTRWSTATUS2 (V2 J15) */
	STLINK_F_SWD_SET_FREQ = 1u << 2,   /* V2 J22 */
	STLINK_F_DAP_REG = 1u << 3,        /* READ/WRITE_DAP_REG (V2 J24) */
	STLINK_F_MEM16 = 1u << 4,          /* V2 J26 */
	STLINK_F_AP_INIT = 1u << 5,        /* INIT_AP (V2 J28) */
	STLINK_F_CSW = 1u << 6,            /* CSW in memory commands (V2 J32, V3 J2) */
	STLINK_F_RW8_512 = 1u << 7,        /* 8-bit transfers up to 512 B (V3 J6) */
	STLINK_F_V3_FREQ = 1u << 8,        /* GET/SET_COM_FREQ */
};

struct stlink_version {
	unsigned hw;          /* 1, 2, 3 (V3PWR reports 4, treated as 3) */
	unsigned jtag, swim, msd, bridge;
	uint16_t vid, pid;
	bool stm8_only;       /* a V2-1 running STM8 (SWIM-only) firmware */
	enum stlink_api api;
	unsigned features;    /* enum stlink_feature bits */
};

/* GET_VERSION (6-byte reply). pid is the USB PID the device enumerated
 * with: the V2-1 fields depend on it. */
void stlink_decode_version(const uint8_t reply[6], uint16_t usb_pid, struct stlink_version *v);
/* True when the GET_VERSION reply says "ask GET_VERSION_APIV3". */
bool stlink_version_needs_v3(const struct stlink_version *v);
/* GET_VERSION_APIV3 (12-byte reply), overriding the fields of v. */
void stlink_decode_version_v3(const uint8_t reply[12], struct stlink_version *v);
/* Fills api and features from hw and jtag. */
void stlink_version_features(struct stlink_version *v);
/* "V2J37S7", "V2J40M27", "V3J7M3B5S1" (OpenOCD's field order). */
void stlink_version_string(const struct stlink_version *v, char *buf, size_t size);

/* ---- voltage and clock ---------------------------------------------- */
/* GET_TARGET_VOLTAGE reply: false when the reference word is 0 (broken
 * ADC, reference §7): the voltage is unknown, not infinite. */
bool stlink_voltage_from_reply(const uint8_t reply[8], double *volts);

/* V2 SWD divisor for the fastest table clock not above khz (the slowest,
 * 5 kHz, when khz is below every entry). */
uint16_t stlink_v2_swd_divisor(unsigned khz, unsigned *actual_khz);
/* V3: the fastest of the probe's offered clocks not above khz, else the
 * slowest; 0 when the list is empty. */
unsigned stlink_v3_pick_khz(const uint32_t *offered, size_t count, unsigned khz);

/* ---- command encoders: fill cmd[16] (zero-padded), return the reply
 * length the host must read (0: none). ------------------------------- */
size_t stlink_enc_get_version(uint8_t cmd[STLINK_CMD_SIZE]);
size_t stlink_enc_get_version_v3(uint8_t cmd[STLINK_CMD_SIZE]);
size_t stlink_enc_get_mode(uint8_t cmd[STLINK_CMD_SIZE]);
size_t stlink_enc_dfu_exit(uint8_t cmd[STLINK_CMD_SIZE]);
size_t stlink_enc_swim_exit(uint8_t cmd[STLINK_CMD_SIZE]);
size_t stlink_enc_debug_exit(uint8_t cmd[STLINK_CMD_SIZE]);
size_t stlink_enc_voltage(uint8_t cmd[STLINK_CMD_SIZE]);
size_t stlink_enc_enter_swd(uint8_t cmd[STLINK_CMD_SIZE]);
size_t stlink_enc_read_idcodes(uint8_t cmd[STLINK_CMD_SIZE]);
size_t stlink_enc_swd_set_freq(uint8_t cmd[STLINK_CMD_SIZE], uint16_t divisor);
size_t stlink_enc_get_com_freq(uint8_t cmd[STLINK_CMD_SIZE]);
size_t stlink_enc_set_com_freq(uint8_t cmd[STLINK_CMD_SIZE], uint32_t khz);
size_t stlink_enc_drive_nrst(uint8_t cmd[STLINK_CMD_SIZE], uint8_t value);
size_t stlink_enc_resetsys(uint8_t cmd[STLINK_CMD_SIZE]);
/* Memory: width 4 (READMEM/WRITEMEM_32BIT) or 1 (…_8BIT); AP 0. */
size_t stlink_enc_read_mem(uint8_t cmd[STLINK_CMD_SIZE], unsigned width, uint32_t addr, uint16_t len);
size_t stlink_enc_write_mem(uint8_t cmd[STLINK_CMD_SIZE], unsigned width, uint32_t addr, uint16_t len);
size_t stlink_enc_rw_status(uint8_t cmd[STLINK_CMD_SIZE], bool v2_status);
size_t stlink_enc_read_debug_reg(uint8_t cmd[STLINK_CMD_SIZE], uint32_t addr);
size_t stlink_enc_write_debug_reg(uint8_t cmd[STLINK_CMD_SIZE], uint32_t addr, uint32_t val);
size_t stlink_enc_read_reg(uint8_t cmd[STLINK_CMD_SIZE], uint8_t reg);
size_t stlink_enc_write_reg(uint8_t cmd[STLINK_CMD_SIZE], uint8_t reg, uint32_t val);
size_t stlink_enc_write_dap_reg(uint8_t cmd[STLINK_CMD_SIZE], uint16_t port, uint16_t reg, uint32_t val);

/* Bytes of the next transfer at addr: at most max_block and never across
 * a TAR boundary (a power of two). len is what is left. */
size_t stlink_chunk_len(uint32_t addr, size_t len, unsigned max_block, unsigned boundary);

/* ---- the driver ------------------------------------------------------ */
struct stlink_options {
	unsigned max_block;          /* 0: STLINK_MAX_BLOCK; rounded down to 4 */
	/* TAR auto-increment boundary transfers never cross; 0: 1 KB. The
	 * target layer may raise it to 4 KB once CPUID says Cortex-M3/M4. */
	unsigned tar_boundary;
	unsigned timeout_ms;         /* per bulk transfer; 0: 3000 */
	/* How the driver waits between WAIT retries; NULL: nanosleep. Tests
	 * and the fuzzer pass a hook that does not sleep. */
	void (*sleep_ms)(void *ctx, unsigned ms);
	void *sleep_ctx;
};

struct stlink_stats {
	unsigned long commands;       /* 16-byte commands sent */
	unsigned long usb_transfers;  /* bulk transfers, both directions */
	unsigned long bytes_out, bytes_in;
	unsigned long wait_retries;   /* WAIT replies retried */
	unsigned long recoveries;     /* wedged probe: reset and reopen */
};

/* Takes ownership of *t (closed on failure and by probe->ops->close).
 * Reads the version, refuses what cannot work (old firmware, STM8-only),
 * leaves DFU/SWIM/debug mode, and fills *out. Does not touch the target. */
vr_err stlink_open(struct usb_transport *t, struct swd_probe *out, struct vr_error *err);
vr_err stlink_open_with(struct usb_transport *t, const struct stlink_options *opts,
			struct swd_probe *out, struct vr_error *err);

/* NULL when p is not an ST-Link opened by this driver. */
const struct stlink_stats *stlink_stats(const struct swd_probe *p);
const struct stlink_version *stlink_probe_version(const struct swd_probe *p);
/* Changes the largest 32-bit transfer and the TAR boundary (0 keeps the
 * current value); false if p is not an ST-Link. */
bool stlink_set_transfer_limits(struct swd_probe *p, unsigned max_block, unsigned tar_boundary);

#endif
