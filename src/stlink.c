/* ST-Link driver: see stlink.h. Byte layouts and limits from
 * ../shared/reference/stlink-swd-stm32f4.md §1-§2 (stlink-org, OpenOCD,
 * pyOCD); the connect sequences (§3) live in the attach layer above. */
#include "stlink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- opcodes ---------------------------------------------------------- */
enum {
	OP_GET_VERSION = 0xF1,
	OP_DEBUG = 0xF2,
	OP_DFU = 0xF3,
	OP_SWIM = 0xF4,
	OP_GET_CURRENT_MODE = 0xF5,
	OP_GET_TARGET_VOLTAGE = 0xF7,
	OP_GET_VERSION_APIV3 = 0xFB,

	DFU_EXIT = 0x07,
	SWIM_EXIT = 0x01,

	DBG_READMEM_32 = 0x07,
	DBG_WRITEMEM_32 = 0x08,
	DBG_READMEM_8 = 0x0C,
	DBG_WRITEMEM_8 = 0x0D,
	DBG_EXIT = 0x21,
	DBG_ENTER = 0x30,
	DBG_READ_IDCODES = 0x31,
	DBG_RESETSYS = 0x32,
	DBG_READREG = 0x33,
	DBG_WRITEREG = 0x34,
	DBG_WRITEDEBUGREG = 0x35,
	DBG_READDEBUGREG = 0x36,
	DBG_GETLASTRWSTATUS = 0x3B,
	DBG_DRIVE_NRST = 0x3C,
	DBG_GETLASTRWSTATUS2 = 0x3E,
	DBG_SWD_SET_FREQ = 0x43,
	DBG_WRITE_DAP_REG = 0x46,
	DBG_SET_COM_FREQ = 0x61,
	DBG_GET_COM_FREQ = 0x62,

	ENTER_SWD_NO_RESET = 0xA3,
};

#define DEFAULT_TIMEOUT_MS 3000u
#define DRAIN_TIMEOUT_MS 10u
#define DRAIN_MAX_READS 64
#define V2_DEFAULT_KHZ 1800u
#define DP_PORT 0xFFFFu
#define DP_ABORT 0x0u
/* ABORT: STKCMPCLR | STKERRCLR | WDERRCLR | ORUNERRCLR */
#define DP_ABORT_CLEAR_ALL 0x1Eu
#define MAX_CONFIGURABLE_BLOCK 65532u

/* ---- little helpers ---------------------------------------------------- */
static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

/* ---- status codes -------------------------------------------------------- */
enum stlink_status_class stlink_status_class(uint8_t status)
{
	switch (status) {
	case STLINK_STATUS_OK:
	case STLINK_STATUS_WRITE_VERIFY_ERROR: /* OpenOCD: "ignoring" */
		return STLINK_CLASS_OK;
	case STLINK_STATUS_AP_WAIT:
	case STLINK_STATUS_DP_WAIT:
		return STLINK_CLASS_WAIT;
	case STLINK_STATUS_FAULT:
	case STLINK_STATUS_AP_FAULT:
	case STLINK_STATUS_AP_ERROR:
	case STLINK_STATUS_DP_FAULT:
	case STLINK_STATUS_DP_ERROR:
	case STLINK_STATUS_AP_WDATA:
	case STLINK_STATUS_AP_STICKY:
	case STLINK_STATUS_AP_STICKY_ORUN:
	case STLINK_STATUS_BAD_AP:
		return STLINK_CLASS_FAULT;
	default:
		return STLINK_CLASS_ERROR;
	}
}

const char *stlink_status_name(uint8_t status)
{
	static const struct {
		uint8_t code;
		const char *name;
	} names[] = {
		{0x80, "OK"}, {0x81, "FAULT"}, {0x01, "unknown error"}, {0x02, "SPI error"},
		{0x03, "DMA error"}, {0x04, "unknown JTAG chain"}, {0x05, "no device"},
		{0x06, "internal error"}, {0x07, "command wait"}, {0x08, "command error"},
		{0x09, "GET_IDCODE error"}, {0x0A, "alignment error"}, {0x0B, "debug power error"},
		{0x0C, "write error"}, {0x0D, "write verify error"},
		{0x0E, "already opened in another mode"}, {0x10, "SWD_AP_WAIT"},
		{0x11, "SWD_AP_FAULT"}, {0x12, "SWD_AP_ERROR"}, {0x13, "SWD_AP_PARITY_ERROR"},
		{0x14, "SWD_DP_WAIT"}, {0x15, "SWD_DP_FAULT"}, {0x16, "SWD_DP_ERROR"},
		{0x17, "SWD_DP_PARITY_ERROR"}, {0x18, "SWD_AP_WDATA_ERROR"},
		{0x19, "SWD_AP_STICKY_ERROR"}, {0x1A, "SWD_AP_STICKYORUN_ERROR"},
		{0x1D, "bad AP"}, {0x20, "SWV not available"},
		{0x41, "frequency not supported"}, {0x42, "unknown command"},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].code == status)
			return names[i].name;
	return "unknown status";
}

/* ---- versions -------------------------------------------------------------- */
static bool pid_is_v2_1(uint16_t pid)
{
	return pid == 0x374B || pid == 0x374A || pid == 0x3752;
}

void stlink_decode_version(const uint8_t reply[6], uint16_t usb_pid, struct stlink_version *v)
{
	/* Bytes 0-1 are big-endian, unlike everything else in the protocol. */
	unsigned word = ((unsigned)reply[0] << 8) | reply[1];
	unsigned x = (word >> 6) & 0x3F, y = word & 0x3F;

	memset(v, 0, sizeof *v);
	v->hw = (word >> 12) & 0x0F;
	v->vid = get_le16(reply + 2);
	v->pid = get_le16(reply + 4);
	if (pid_is_v2_1(usb_pid) || pid_is_v2_1(v->pid)) {
		/* OpenOCD's rule for telling STM8 (MxSy) from STM32 (JxMy) firmware. */
		if ((x <= 22 && y == 7) || (x >= 25 && y >= 7 && y <= 12)) {
			v->msd = x;
			v->swim = y;
			v->stm8_only = true;
		} else {
			v->jtag = x;
			v->msd = y;
		}
	} else {
		v->jtag = x;
		v->swim = y;
	}
	stlink_version_features(v);
}

bool stlink_version_needs_v3(const struct stlink_version *v)
{
	return v->hw >= 3 && v->jtag == 0 && v->swim == 0 && v->msd == 0;
}

void stlink_decode_version_v3(const uint8_t reply[12], struct stlink_version *v)
{
	v->hw = reply[0];
	v->swim = reply[1];
	v->jtag = reply[2];
	v->msd = reply[3];
	v->bridge = reply[4];
	v->vid = get_le16(reply + 8);
	v->pid = get_le16(reply + 10);
	v->stm8_only = false;
	stlink_version_features(v);
}

static unsigned v2_features(unsigned jtag)
{
	unsigned f = 0;
	if (jtag >= 13)
		f |= STLINK_F_VOLTAGE;
	if (jtag >= 15)
		f |= STLINK_F_RWSTATUS2;
	if (jtag >= 22)
		f |= STLINK_F_SWD_SET_FREQ;
	if (jtag >= 24)
		f |= STLINK_F_DAP_REG;
	if (jtag >= 26)
		f |= STLINK_F_MEM16;
	if (jtag >= 28)
		f |= STLINK_F_AP_INIT;
	if (jtag >= 32)
		f |= STLINK_F_CSW;
	return f;
}

void stlink_version_features(struct stlink_version *v)
{
	v->features = 0;
	if (v->hw >= 3) {
		v->api = STLINK_API_V3;
		v->features = STLINK_F_VOLTAGE | STLINK_F_RWSTATUS2 | STLINK_F_DAP_REG |
			      STLINK_F_MEM16 | STLINK_F_AP_INIT | STLINK_F_V3_FREQ;
		if (v->jtag >= 2)
			v->features |= STLINK_F_CSW;
		if (v->jtag >= 6)
			v->features |= STLINK_F_RW8_512;
	} else if (v->hw == 2) {
		v->api = STLINK_API_V2;
		v->features = v2_features(v->jtag);
	} else {
		v->api = v->jtag >= 11 ? STLINK_API_V2 : STLINK_API_V1;
	}
}

static void append_field(char *buf, size_t size, char letter, unsigned value)
{
	size_t used = strlen(buf);
	if (used < size)
		snprintf(buf + used, size - used, "%c%u", letter, value);
}

void stlink_version_string(const struct stlink_version *v, char *buf, size_t size)
{
	if (!size)
		return;
	buf[0] = '\0';
	append_field(buf, size, 'V', v->hw);
	if (v->jtag || !v->msd)
		append_field(buf, size, 'J', v->jtag);
	if (v->msd)
		append_field(buf, size, 'M', v->msd);
	if (v->bridge)
		append_field(buf, size, 'B', v->bridge);
	if (v->swim || !v->msd)
		append_field(buf, size, 'S', v->swim);
}

/* ---- voltage and clock ---------------------------------------------------- */
bool stlink_voltage_from_reply(const uint8_t reply[8], double *volts)
{
	uint32_t vref = get_le32(reply), sense = get_le32(reply + 4);
	if (vref == 0)
		return false;
	*volts = 2.0 * 1.2 * (double)sense / (double)vref;
	return true;
}

static const struct {
	unsigned khz;
	uint16_t divisor;
} v2_swd_clocks[] = {
	{4000, 0}, {1800, 1}, {1200, 2}, {950, 3}, {480, 7}, {240, 15},
	{125, 31}, {100, 40}, {50, 79}, {25, 158}, {15, 265}, {5, 798},
};

uint16_t stlink_v2_swd_divisor(unsigned khz, unsigned *actual_khz)
{
	size_t n = sizeof v2_swd_clocks / sizeof v2_swd_clocks[0];
	size_t pick = n - 1;
	for (size_t i = 0; i < n; i++) {
		if (v2_swd_clocks[i].khz <= khz) {
			pick = i;
			break;
		}
	}
	if (actual_khz)
		*actual_khz = v2_swd_clocks[pick].khz;
	return v2_swd_clocks[pick].divisor;
}

unsigned stlink_v3_pick_khz(const uint32_t *offered, size_t count, unsigned khz)
{
	unsigned best = 0, slowest = 0;
	for (size_t i = 0; i < count; i++) {
		unsigned f = offered[i];
		if (!f)
			continue;
		if (!slowest || f < slowest)
			slowest = f;
		if (f <= khz && f > best)
			best = f;
	}
	return best ? best : slowest;
}

/* ---- encoders --------------------------------------------------------------- */
static void cmd_start(uint8_t cmd[STLINK_CMD_SIZE], uint8_t op0, uint8_t op1)
{
	memset(cmd, 0, STLINK_CMD_SIZE);
	cmd[0] = op0;
	cmd[1] = op1;
}

size_t stlink_enc_get_version(uint8_t cmd[STLINK_CMD_SIZE])
{
	cmd_start(cmd, OP_GET_VERSION, 0);
	return 6;
}

size_t stlink_enc_get_version_v3(uint8_t cmd[STLINK_CMD_SIZE])
{
	cmd_start(cmd, OP_GET_VERSION_APIV3, 0);
	return 12;
}

size_t stlink_enc_get_mode(uint8_t cmd[STLINK_CMD_SIZE])
{
	cmd_start(cmd, OP_GET_CURRENT_MODE, 0);
	return 2;
}

size_t stlink_enc_dfu_exit(uint8_t cmd[STLINK_CMD_SIZE])
{
	cmd_start(cmd, OP_DFU, DFU_EXIT);
	return 0;
}

size_t stlink_enc_swim_exit(uint8_t cmd[STLINK_CMD_SIZE])
{
	cmd_start(cmd, OP_SWIM, SWIM_EXIT);
	return 0;
}

size_t stlink_enc_debug_exit(uint8_t cmd[STLINK_CMD_SIZE])
{
	cmd_start(cmd, OP_DEBUG, DBG_EXIT);
	return 0;
}

size_t stlink_enc_voltage(uint8_t cmd[STLINK_CMD_SIZE])
{
	cmd_start(cmd, OP_GET_TARGET_VOLTAGE, 0);
	return 8;
}

size_t stlink_enc_enter_swd(uint8_t cmd[STLINK_CMD_SIZE])
{
	cmd_start(cmd, OP_DEBUG, DBG_ENTER);
	cmd[2] = ENTER_SWD_NO_RESET;
	return 2;
}

size_t stlink_enc_read_idcodes(uint8_t cmd[STLINK_CMD_SIZE])
{
	cmd_start(cmd, OP_DEBUG, DBG_READ_IDCODES);
	return 12;
}

size_t stlink_enc_swd_set_freq(uint8_t cmd[STLINK_CMD_SIZE], uint16_t divisor)
{
	cmd_start(cmd, OP_DEBUG, DBG_SWD_SET_FREQ);
	put_le16(cmd + 2, divisor);
	return 2;
}

size_t stlink_enc_get_com_freq(uint8_t cmd[STLINK_CMD_SIZE])
{
	cmd_start(cmd, OP_DEBUG, DBG_GET_COM_FREQ);
	cmd[2] = 0; /* SWD */
	return 52;
}

size_t stlink_enc_set_com_freq(uint8_t cmd[STLINK_CMD_SIZE], uint32_t khz)
{
	cmd_start(cmd, OP_DEBUG, DBG_SET_COM_FREQ);
	cmd[2] = 0; /* SWD */
	put_le32(cmd + 4, khz);
	return 8;
}

size_t stlink_enc_drive_nrst(uint8_t cmd[STLINK_CMD_SIZE], uint8_t value)
{
	cmd_start(cmd, OP_DEBUG, DBG_DRIVE_NRST);
	cmd[2] = value;
	return 2;
}

size_t stlink_enc_resetsys(uint8_t cmd[STLINK_CMD_SIZE])
{
	cmd_start(cmd, OP_DEBUG, DBG_RESETSYS);
	return 2;
}

static void enc_mem(uint8_t cmd[STLINK_CMD_SIZE], uint8_t op, uint32_t addr, uint16_t len)
{
	cmd_start(cmd, OP_DEBUG, op);
	put_le32(cmd + 2, addr);
	put_le16(cmd + 6, len);
	/* byte 8 = AP 0; bytes 9-11 = CSW 0 (probe default) */
}

size_t stlink_enc_read_mem(uint8_t cmd[STLINK_CMD_SIZE], unsigned width, uint32_t addr, uint16_t len)
{
	enc_mem(cmd, width == 1 ? DBG_READMEM_8 : DBG_READMEM_32, addr, len);
	/* A one-byte 8-bit read answers with two bytes (OpenOCD read_mem8). */
	return (width == 1 && len == 1) ? 2 : len;
}

size_t stlink_enc_write_mem(uint8_t cmd[STLINK_CMD_SIZE], unsigned width, uint32_t addr, uint16_t len)
{
	enc_mem(cmd, width == 1 ? DBG_WRITEMEM_8 : DBG_WRITEMEM_32, addr, len);
	return 0;
}

size_t stlink_enc_rw_status(uint8_t cmd[STLINK_CMD_SIZE], bool v2_status)
{
	cmd_start(cmd, OP_DEBUG, v2_status ? DBG_GETLASTRWSTATUS2 : DBG_GETLASTRWSTATUS);
	return v2_status ? 12 : 2;
}

size_t stlink_enc_read_debug_reg(uint8_t cmd[STLINK_CMD_SIZE], uint32_t addr)
{
	cmd_start(cmd, OP_DEBUG, DBG_READDEBUGREG);
	put_le32(cmd + 2, addr);
	return 8;
}

size_t stlink_enc_write_debug_reg(uint8_t cmd[STLINK_CMD_SIZE], uint32_t addr, uint32_t val)
{
	cmd_start(cmd, OP_DEBUG, DBG_WRITEDEBUGREG);
	put_le32(cmd + 2, addr);
	put_le32(cmd + 6, val);
	return 2;
}

size_t stlink_enc_read_reg(uint8_t cmd[STLINK_CMD_SIZE], uint8_t reg)
{
	cmd_start(cmd, OP_DEBUG, DBG_READREG);
	cmd[2] = reg;
	return 8;
}

size_t stlink_enc_write_reg(uint8_t cmd[STLINK_CMD_SIZE], uint8_t reg, uint32_t val)
{
	cmd_start(cmd, OP_DEBUG, DBG_WRITEREG);
	cmd[2] = reg;
	put_le32(cmd + 3, val);
	return 2;
}

size_t stlink_enc_write_dap_reg(uint8_t cmd[STLINK_CMD_SIZE], uint16_t port, uint16_t reg, uint32_t val)
{
	cmd_start(cmd, OP_DEBUG, DBG_WRITE_DAP_REG);
	put_le16(cmd + 2, port);
	put_le16(cmd + 4, reg);
	put_le32(cmd + 6, val);
	return 2;
}

size_t stlink_chunk_len(uint32_t addr, size_t len, unsigned max_block, unsigned boundary)
{
	size_t n = len < max_block ? len : max_block;
	if (boundary && (boundary & (boundary - 1)) == 0) {
		size_t to_boundary = boundary - (addr & (boundary - 1));
		if (n > to_boundary)
			n = to_boundary;
	}
	return n;
}

/* ---- the driver object ------------------------------------------------------- */
struct stlink {
	struct usb_transport t;
	struct stlink_version ver;
	struct stlink_stats stats;
	unsigned timeout_ms;
	unsigned max_block, tar_boundary, max_rw8;
	void (*sleep_ms)(void *ctx, unsigned ms);
	void *sleep_ctx;
	bool in_swd;
	bool clock_set;           /* restore after a recovery */
	unsigned clock_khz;
	bool recovering;          /* no nested recovery */
	bool clearing;            /* no nested sticky-error clearing */
	bool recovered_once;      /* one reset per session: then the person replugs */
};

enum reply_check {
	CHECK_NONE = 0,     /* no status: F1, FB, F5, F7, exits */
	CHECK_REPLY,        /* status at reply[0] */
	CHECK_RWSTATUS,     /* follow with GETLASTRWSTATUS(2): READMEM/WRITEMEM */
};

/* One exchange with the probe as a retry unit: a memory transfer and its
 * status query are repeated together, never the status query alone (after
 * a reset it would report on nothing and pass stale bytes as good). */
struct txn {
	uint8_t cmd[STLINK_CMD_SIZE];
	const uint8_t *out;
	size_t out_len;
	uint8_t *in;
	size_t in_len;
	enum reply_check check;
	const char *what;   /* "reading", "entering SWD mode" */
	uint32_t addr;
	bool has_addr;
};

static void default_sleep_ms(void *ctx, unsigned ms)
{
	(void)ctx;
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0) {
	}
}

static bool is_wedge(vr_err rc)
{
	return rc == VR_ERR_TIMEOUT || rc == VR_ERR_IO;
}

static vr_err usb_out(struct stlink *s, const uint8_t *buf, size_t len, struct vr_error *err)
{
	s->stats.usb_transfers++;
	vr_err rc = usb_transport_out(&s->t, buf, len, s->timeout_ms, err);
	if (rc == VR_OK)
		s->stats.bytes_out += len;
	return rc;
}

/* Replies carry no length: read until the expected count has arrived. */
static vr_err usb_in_exact(struct stlink *s, uint8_t *buf, size_t len, struct vr_error *err)
{
	size_t have = 0;
	unsigned empty = 0;
	while (have < len) {
		size_t got = 0;
		s->stats.usb_transfers++;
		vr_err rc = usb_transport_in(&s->t, buf + have, len - have, &got, s->timeout_ms, err);
		if (rc != VR_OK)
			return rc;
		if (got > len - have)
			got = len - have;
		if (got == 0 && ++empty >= 3)
			return vr_fail(err, VR_ERR_IO, "the ST-Link sent empty replies");
		have += got;
		s->stats.bytes_in += got;
	}
	return VR_OK;
}

static vr_err txn_transfer(struct stlink *s, const struct txn *x, struct vr_error *err)
{
	s->stats.commands++;
	vr_err rc = usb_out(s, x->cmd, STLINK_CMD_SIZE, err);
	if (rc == VR_OK && x->out_len)
		rc = usb_out(s, x->out, x->out_len, err);
	if (rc == VR_OK && x->in_len)
		rc = usb_in_exact(s, x->in, x->in_len, err);
	return rc;
}

static vr_err read_rw_status(struct stlink *s, uint8_t *status, uint32_t *fault_addr,
			     bool *fault_known, struct vr_error *err)
{
	uint8_t cmd[STLINK_CMD_SIZE], reply[12];
	bool v2 = (s->ver.features & STLINK_F_RWSTATUS2) != 0;
	size_t reply_len = stlink_enc_rw_status(cmd, v2);
	struct txn st = {.out_len = 0, .in = reply, .in_len = reply_len};
	memcpy(st.cmd, cmd, sizeof cmd);
	vr_err rc = txn_transfer(s, &st, err);
	if (rc != VR_OK)
		return rc;
	*status = reply[0];
	*fault_known = v2;
	if (v2)
		*fault_addr = get_le32(reply + 4);
	return VR_OK;
}

/* One attempt: transfers, then the status byte (OK when there is none). */
static vr_err txn_once(struct stlink *s, const struct txn *x, uint8_t *status,
		       uint32_t *fault_addr, bool *fault_known, struct vr_error *err)
{
	*status = STLINK_STATUS_OK;
	*fault_known = false;
	vr_err rc = txn_transfer(s, x, err);
	if (rc != VR_OK)
		return rc;
	if (x->check == CHECK_REPLY && x->in_len)
		*status = x->in[0];
	else if (x->check == CHECK_RWSTATUS)
		rc = read_rw_status(s, status, fault_addr, fault_known, err);
	return rc;
}

static const char *fault_hint(uint32_t addr, bool reading)
{
	if (addr >= 0x08000000u && addr < 0x08100000u)
		return reading ? " (flash read-protected? RDP level 1)"
			       : " (flash read-protected at RDP level 1, or written without the flash "
				 "controller)";
	if (addr >= 0x1FFF0000u && addr < 0x1FFFC010u)
		return " (system memory or option bytes: RDP level 1?)";
	return " (nothing answers at that address, or the target is in reset or asleep)";
}

static vr_err clear_sticky_errors(struct stlink *s);
static vr_err clear_sticky_steps(struct stlink *s, uint8_t *cmd, uint8_t *reply,
				 struct vr_error *ignored);

static vr_err status_failure(struct stlink *s, const struct txn *x, uint8_t status,
			     uint32_t fault_addr, bool fault_known, struct vr_error *err)
{
	uint32_t addr = fault_known ? fault_addr : x->addr;
	bool with_addr = fault_known || x->has_addr;
	bool reading = strncmp(x->what, "read", 4) == 0;
	char where[24] = "";
	if (with_addr)
		snprintf(where, sizeof where, " 0x%08X", (unsigned)addr);

	switch (stlink_status_class(status)) {
	case STLINK_CLASS_WAIT:
		return vr_fail(err, VR_ERR_TIMEOUT,
			       "the target kept answering WAIT (%s) %s%s after %d attempts: it is "
			       "asleep, stalled or held in reset; try connect-under-reset",
			       stlink_status_name(status), x->what, where, STLINK_WAIT_ATTEMPTS);
	case STLINK_CLASS_FAULT:
		clear_sticky_errors(s);
		return vr_fail(err, VR_ERR_FAULT, "target fault %s%s (%s)%s", x->what, where,
			       stlink_status_name(status),
			       with_addr ? fault_hint(addr, reading) : "");
	default:
		break;
	}
	switch (status) {
	case STLINK_STATUS_NO_DEVICE:
	case STLINK_STATUS_GET_IDCODE_ERROR:
		return vr_fail(err, VR_ERR_NO_DEVICE,
			       "no SWD target answered %s (%s): check that the VESC is powered, "
			       "GND is connected and SWDIO/SWCLK are not swapped",
			       x->what, stlink_status_name(status));
	case STLINK_STATUS_DEBUG_POWER_ERROR:
		return vr_fail(err, VR_ERR_NO_DEVICE,
			       "the target's debug port did not power up %s: is the VESC powered?",
			       x->what);
	case STLINK_STATUS_AP_PARITY:
	case STLINK_STATUS_DP_PARITY:
		return vr_fail(err, VR_ERR_IO,
			       "SWD parity error %s%s: the wires are too long or loose; shorten "
			       "them or lower the SWD clock", x->what, where);
	case STLINK_STATUS_FREQ_UNSUPPORTED:
		return vr_fail(err, VR_ERR_UNSUPPORTED, "the ST-Link cannot run SWD at that clock");
	case STLINK_STATUS_UNKNOWN_CMD:
		return vr_fail(err, VR_ERR_UNSUPPORTED,
			       "the ST-Link firmware does not know the command for %s: update "
			       "it with ST's STSW-LINK007", x->what);
	default:
		return vr_fail(err, VR_ERR_IO, "the ST-Link refused %s%s (status 0x%02X, %s)",
			       x->what, where, status, stlink_status_name(status));
	}
}

static vr_err recover(struct stlink *s, vr_err why, const char *what, struct vr_error *err);

static vr_err wedged(vr_err why, const char *what, struct vr_error *err)
{
	if (why == VR_ERR_GONE)
		return vr_fail(err, VR_ERR_GONE,
			       "the ST-Link disappeared from USB while %s: plug it back in "
			       "(check the cable and hub) and run the command again", what);
	return vr_fail(err, VR_ERR_TIMEOUT,
		       "the ST-Link stopped answering while %s and a USB reset did not bring it "
		       "back: unplug it, plug it back in, and run the command again", what);
}

/* Runs x with WAIT retries (1, 2, 4 ... ms, STLINK_WAIT_ATTEMPTS in all)
 * and, once per session, a probe reset and reopen when it wedges. */
static vr_err run_txn(struct stlink *s, const struct txn *x, struct vr_error *err)
{
	unsigned attempt = 0;
	for (;;) {
		uint8_t status;
		uint32_t fault_addr = 0;
		bool fault_known;
		vr_err rc = txn_once(s, x, &status, &fault_addr, &fault_known, err);
		if (rc == VR_ERR_GONE)
			return wedged(rc, x->what, err);
		if (is_wedge(rc)) {
			if (s->recovering || s->recovered_once)
				return wedged(rc, x->what, err);
			rc = recover(s, rc, x->what, err);
			if (rc != VR_OK)
				return rc;
			continue;
		}
		if (rc != VR_OK)
			return rc;
		enum stlink_status_class cls = stlink_status_class(status);
		if (cls == STLINK_CLASS_OK)
			return VR_OK;
		if (cls == STLINK_CLASS_WAIT && attempt + 1 < STLINK_WAIT_ATTEMPTS) {
			s->sleep_ms(s->sleep_ctx, 1u << attempt);
			attempt++;
			s->stats.wait_retries++;
			continue;
		}
		return status_failure(s, x, status, fault_addr, fault_known, err);
	}
}

static vr_err simple(struct stlink *s, const uint8_t cmd[STLINK_CMD_SIZE], uint8_t *reply,
		     size_t reply_len, enum reply_check check, const char *what,
		     struct vr_error *err)
{
	struct txn x = {.in = reply, .in_len = reply_len, .check = check, .what = what};
	memcpy(x.cmd, cmd, STLINK_CMD_SIZE);
	return run_txn(s, &x, err);
}

/* Sticky DP errors stay set after a fault and fail every later access. */
static vr_err clear_sticky_errors(struct stlink *s)
{
	uint8_t cmd[STLINK_CMD_SIZE], reply[2];
	struct vr_error ignored;
	if (s->clearing || !s->in_swd)
		return VR_OK;
	s->clearing = true;
	vr_err rc = clear_sticky_steps(s, cmd, reply, &ignored);
	s->clearing = false;
	return rc;
}

static vr_err clear_sticky_steps(struct stlink *s, uint8_t *cmd, uint8_t *reply,
				 struct vr_error *ignored)
{
	if (s->ver.features & STLINK_F_DAP_REG) {
		size_t n = stlink_enc_write_dap_reg(cmd, DP_PORT, DP_ABORT, DP_ABORT_CLEAR_ALL);
		if (simple(s, cmd, reply, n, CHECK_REPLY, "clearing SWD errors", ignored) == VR_OK)
			return VR_OK;
	}
	stlink_enc_debug_exit(cmd);
	vr_err rc = simple(s, cmd, NULL, 0, CHECK_NONE, "leaving SWD mode", ignored);
	if (rc != VR_OK)
		return rc;
	size_t n = stlink_enc_enter_swd(cmd);
	return simple(s, cmd, reply, n, CHECK_REPLY, "entering SWD mode", ignored);
}

/* ---- session setup --------------------------------------------------------------- */
static vr_err read_version(struct stlink *s, struct vr_error *err)
{
	uint8_t cmd[STLINK_CMD_SIZE], reply[12];
	size_t n = stlink_enc_get_version(cmd);
	vr_err rc = simple(s, cmd, reply, n, CHECK_NONE, "reading the ST-Link version", err);
	if (rc != VR_OK)
		return rc;
	stlink_decode_version(reply, s->t.pid, &s->ver);
	if (!stlink_version_needs_v3(&s->ver))
		return VR_OK;
	n = stlink_enc_get_version_v3(cmd);
	rc = simple(s, cmd, reply, n, CHECK_NONE, "reading the STLINK-V3 version", err);
	if (rc != VR_OK)
		return rc;
	stlink_decode_version_v3(reply, &s->ver);
	return VR_OK;
}

static vr_err check_version(const struct stlink *s, struct vr_error *err)
{
	char vs[32];
	stlink_version_string(&s->ver, vs, sizeof vs);
	if (s->ver.hw == 1)
		return vr_fail(err, VR_ERR_UNSUPPORTED,
			       "this is an ST-LINK/V1 (%s): it is not supported; use an ST-LINK/V2, "
			       "V2-1 (Nucleo) or V3", vs);
	if (s->ver.hw < 1 || s->ver.hw > 4)
		return vr_fail(err, VR_ERR_UNSUPPORTED,
			       "the ST-Link reports an unknown hardware version %u (%s): it is not "
			       "supported", s->ver.hw, vs);
	if (s->ver.stm8_only)
		return vr_fail(err, VR_ERR_UNSUPPORTED,
			       "this ST-LINK/V2-1 runs STM8-only firmware (%s), which has no SWD: "
			       "use a probe for STM32", vs);
	if (s->ver.hw == 2 && s->ver.jtag < STLINK_V2_MIN_JTAG)
		return vr_fail(err, VR_ERR_UNSUPPORTED,
			       "the ST-Link firmware %s is too old (needs V2J%d or newer): update "
			       "the ST-Link firmware (ST's STSW-LINK007); clones may refuse the "
			       "update, then use another probe", vs, STLINK_V2_MIN_JTAG);
	return VR_OK;
}

static vr_err read_mode(struct stlink *s, uint8_t *mode, struct vr_error *err)
{
	uint8_t cmd[STLINK_CMD_SIZE], reply[2];
	size_t n = stlink_enc_get_mode(cmd);
	vr_err rc = simple(s, cmd, reply, n, CHECK_NONE, "reading the ST-Link mode", err);
	if (rc == VR_OK)
		*mode = reply[0];
	return rc;
}

/* DFU, SWIM or a debug session left by another program: leave it so that
 * ENTER SWD starts from the idle state. */
static vr_err leave_current_mode(struct stlink *s, struct vr_error *err)
{
	uint8_t mode = STLINK_PMODE_MASS;
	for (int round = 0; round < 3; round++) {
		uint8_t cmd[STLINK_CMD_SIZE];
		vr_err rc = read_mode(s, &mode, err);
		if (rc != VR_OK)
			return rc;
		if (mode == STLINK_PMODE_MASS || mode > STLINK_PMODE_BOOTLOADER)
			return VR_OK;
		if (mode == STLINK_PMODE_BOOTLOADER)
			return vr_fail(err, VR_ERR_NO_DEVICE,
				       "the ST-Link is in its bootloader: replug it, or update it with "
				       "ST's upgrade tool (STSW-LINK007)");
		if (mode == STLINK_PMODE_DFU)
			stlink_enc_dfu_exit(cmd);
		else if (mode == STLINK_PMODE_SWIM)
			stlink_enc_swim_exit(cmd);
		else
			stlink_enc_debug_exit(cmd);
		rc = simple(s, cmd, NULL, 0, CHECK_NONE, "leaving the ST-Link's current mode", err);
		if (rc != VR_OK)
			return rc;
	}
	if (mode == STLINK_PMODE_DFU)
		return vr_fail(err, VR_ERR_NO_DEVICE,
			       "the ST-Link stays in its DFU (firmware update) mode: unplug it and plug "
			       "it back in; if that does not help, re-flash it with ST's STSW-LINK007");
	return vr_fail(err, VR_ERR_NO_DEVICE,
		       "the ST-Link does not leave its %s mode: unplug it and plug it back in",
		       mode == STLINK_PMODE_SWIM ? "SWIM" : "debug");
}

static vr_err apply_clock(struct stlink *s, unsigned khz, unsigned *actual, struct vr_error *err);

static vr_err enter_swd_raw(struct stlink *s, struct vr_error *err)
{
	uint8_t cmd[STLINK_CMD_SIZE], reply[2];
	size_t n = stlink_enc_enter_swd(cmd);
	vr_err rc = simple(s, cmd, reply, n, CHECK_REPLY, "entering SWD mode", err);
	if (rc == VR_OK)
		s->in_swd = true;
	return rc;
}

/* The probe wedged (a transfer timed out): drain stale replies, reset it
 * on USB, and bring the session back to where it was. */
static void drain(struct stlink *s)
{
	uint8_t junk[512];
	for (int i = 0; i < DRAIN_MAX_READS; i++) {
		size_t got = 0;
		struct vr_error ignored;
		s->stats.usb_transfers++;
		if (usb_transport_in(&s->t, junk, sizeof junk, &got, DRAIN_TIMEOUT_MS, &ignored) != VR_OK ||
		    got == 0)
			return;
	}
}

static vr_err recover(struct stlink *s, vr_err why, const char *what, struct vr_error *err)
{
	bool was_in_swd = s->in_swd;
	vr_err rc = VR_OK;
	s->recovering = true;
	s->recovered_once = true;
	s->stats.recoveries++;
	drain(s);
	if (s->t.ops->reset) {
		rc = s->t.ops->reset(s->t.ctx, err);
		if (rc == VR_OK)
			drain(s);
	}
	s->in_swd = false;
	if (rc == VR_OK)
		rc = read_version(s, err);
	if (rc == VR_OK)
		rc = leave_current_mode(s, err);
	if (rc == VR_OK && s->clock_set)
		rc = apply_clock(s, s->clock_khz, NULL, err);
	if (rc == VR_OK && was_in_swd)
		rc = enter_swd_raw(s, err);
	s->recovering = false;
	if (rc == VR_OK)
		return VR_OK;
	return wedged(rc == VR_ERR_GONE ? VR_ERR_GONE : why, what, err);
}

/* ---- probe operations --------------------------------------------------------------- */
static vr_err op_target_voltage(void *ctx, double *volts, struct vr_error *err)
{
	struct stlink *s = ctx;
	uint8_t cmd[STLINK_CMD_SIZE], reply[8];
	if (!(s->ver.features & STLINK_F_VOLTAGE))
		return vr_fail(err, VR_ERR_UNSUPPORTED,
			       "this ST-Link firmware cannot measure the target voltage (needs V2J13)");
	size_t n = stlink_enc_voltage(cmd);
	vr_err rc = simple(s, cmd, reply, n, CHECK_NONE, "reading the target voltage", err);
	if (rc != VR_OK)
		return rc;
	if (!stlink_voltage_from_reply(reply, volts))
		return vr_fail(err, VR_ERR_UNSUPPORTED,
			       "the ST-Link returned no voltage reading (its reference reads 0): "
			       "target voltage unknown");
	return VR_OK;
}

static vr_err v3_set_clock(struct stlink *s, unsigned khz, unsigned *actual, struct vr_error *err)
{
	uint8_t cmd[STLINK_CMD_SIZE], reply[52];
	uint32_t offered[10];
	size_t n = stlink_enc_get_com_freq(cmd);
	vr_err rc = simple(s, cmd, reply, n, CHECK_REPLY, "reading the SWD clock list", err);
	if (rc != VR_OK)
		return rc;
	uint32_t count = get_le32(reply + 8);
	if (count > 10)
		count = 10;
	for (uint32_t i = 0; i < count; i++)
		offered[i] = get_le32(reply + 12 + 4 * i);
	unsigned pick = stlink_v3_pick_khz(offered, count, khz);
	if (!pick)
		return vr_fail(err, VR_ERR_IO, "the STLINK-V3 offered no SWD clock");
	n = stlink_enc_set_com_freq(cmd, pick);
	rc = simple(s, cmd, reply, n, CHECK_REPLY, "setting the SWD clock", err);
	if (rc == VR_OK && actual)
		*actual = get_le32(reply + 4) ? get_le32(reply + 4) : pick;
	return rc;
}

static vr_err apply_clock(struct stlink *s, unsigned khz, unsigned *actual, struct vr_error *err)
{
	if (s->ver.features & STLINK_F_V3_FREQ)
		return v3_set_clock(s, khz, actual, err);
	if (!(s->ver.features & STLINK_F_SWD_SET_FREQ)) {
		if (actual)
			*actual = V2_DEFAULT_KHZ;
		char vs[32];
		stlink_version_string(&s->ver, vs, sizeof vs);
		return vr_fail(err, VR_ERR_UNSUPPORTED,
			       "ST-Link firmware %s cannot change the SWD clock (needs V2J22): it "
			       "stays at %u kHz; update the ST-Link firmware (ST's STSW-LINK007)",
			       vs, V2_DEFAULT_KHZ);
	}
	uint8_t cmd[STLINK_CMD_SIZE], reply[2];
	unsigned got_khz;
	size_t n = stlink_enc_swd_set_freq(cmd, stlink_v2_swd_divisor(khz, &got_khz));
	vr_err rc = simple(s, cmd, reply, n, CHECK_REPLY, "setting the SWD clock", err);
	if (rc == VR_OK && actual)
		*actual = got_khz;
	return rc;
}

static vr_err op_set_clock(void *ctx, unsigned khz, unsigned *actual_khz, struct vr_error *err)
{
	struct stlink *s = ctx;
	unsigned got = 0;
	vr_err rc = apply_clock(s, khz, &got, err);
	if (actual_khz)
		*actual_khz = got;
	if (rc == VR_OK) {
		s->clock_set = true;
		s->clock_khz = khz;
	}
	return rc;
}

static vr_err op_drive_nrst(void *ctx, bool assert_low, struct vr_error *err)
{
	struct stlink *s = ctx;
	uint8_t cmd[STLINK_CMD_SIZE], reply[2];
	size_t n = stlink_enc_drive_nrst(cmd, assert_low ? 0 : 1);
	return simple(s, cmd, reply, n, CHECK_REPLY,
		      assert_low ? "driving NRST low" : "releasing NRST", err);
}

static vr_err op_enter_swd(void *ctx, struct vr_error *err)
{
	return enter_swd_raw(ctx, err);
}

static vr_err op_leave_swd(void *ctx, struct vr_error *err)
{
	struct stlink *s = ctx;
	uint8_t cmd[STLINK_CMD_SIZE];
	stlink_enc_debug_exit(cmd);
	s->in_swd = false;
	return simple(s, cmd, NULL, 0, CHECK_NONE, "leaving SWD mode", err);
}

static vr_err need_swd(const struct stlink *s, struct vr_error *err)
{
	if (!s->in_swd)
		return vr_fail(err, VR_ERR_INTERNAL, "target access before entering SWD mode");
	return VR_OK;
}

static vr_err op_read_dpidr(void *ctx, uint32_t *dpidr, struct vr_error *err)
{
	struct stlink *s = ctx;
	uint8_t cmd[STLINK_CMD_SIZE], reply[12];
	vr_err rc = need_swd(s, err);
	if (rc != VR_OK)
		return rc;
	size_t n = stlink_enc_read_idcodes(cmd);
	rc = simple(s, cmd, reply, n, CHECK_REPLY, "reading the SWD ID code", err);
	if (rc != VR_OK)
		return rc;
	*dpidr = get_le32(reply + 4);
	if (*dpidr == 0 || *dpidr == 0xFFFFFFFFu)
		return vr_fail(err, VR_ERR_NO_DEVICE,
			       "no SWD target answered (DPIDR reads 0x%08X): check that the VESC is "
			       "powered, GND is connected and SWDIO/SWCLK are not swapped",
			       (unsigned)*dpidr);
	return VR_OK;
}

static vr_err check_range(uint32_t addr, size_t len, struct vr_error *err)
{
	if (len > (size_t)UINT32_MAX - addr + 1u)
		return vr_fail(err, VR_ERR_INTERNAL,
			       "memory access 0x%08X + %zu runs past the end of the address space",
			       (unsigned)addr, len);
	return VR_OK;
}

static vr_err read_piece(struct stlink *s, unsigned width, uint32_t addr, uint8_t *buf,
			 size_t len, struct vr_error *err)
{
	uint8_t two[2];
	struct txn x = {.check = CHECK_RWSTATUS, .what = "reading", .addr = addr, .has_addr = true};
	x.in_len = stlink_enc_read_mem(x.cmd, width, addr, (uint16_t)len);
	x.in = x.in_len > len ? two : buf;
	vr_err rc = run_txn(s, &x, err);
	if (rc == VR_OK && x.in == two)
		memcpy(buf, two, len);
	return rc;
}

static vr_err write_piece(struct stlink *s, unsigned width, uint32_t addr, const uint8_t *buf,
			  size_t len, struct vr_error *err)
{
	struct txn x = {.out = buf, .out_len = len, .check = CHECK_RWSTATUS, .what = "writing",
			.addr = addr, .has_addr = true};
	stlink_enc_write_mem(x.cmd, width, addr, (uint16_t)len);
	return run_txn(s, &x, err);
}

/* Splits [addr, addr+len) into an 8-bit head up to the first word, 32-bit
 * blocks, and an 8-bit tail; each piece within the probe's limits. */
static vr_err transfer(struct stlink *s, bool writing, uint32_t addr, uint8_t *rbuf,
		       const uint8_t *wbuf, size_t len, struct vr_error *err)
{
	vr_err rc = need_swd(s, err);
	if (rc == VR_OK)
		rc = check_range(addr, len, err);
	size_t done = 0;
	while (rc == VR_OK && done < len) {
		uint32_t at = addr + (uint32_t)done;
		size_t left = len - done;
		unsigned width = ((at & 3u) || left < 4) ? 1 : 4;
		size_t n;
		if (width == 1) {
			size_t to_word = (at & 3u) ? 4 - (at & 3u) : left;
			n = stlink_chunk_len(at, left < to_word ? left : to_word, s->max_rw8,
					     s->tar_boundary);
		} else {
			n = stlink_chunk_len(at, left & ~(size_t)3, s->max_block, s->tar_boundary);
		}
		rc = writing ? write_piece(s, width, at, wbuf + done, n, err)
			     : read_piece(s, width, at, rbuf + done, n, err);
		done += n;
	}
	return rc;
}

static vr_err op_read_mem(void *ctx, uint32_t addr, void *buf, size_t len, struct vr_error *err)
{
	return transfer(ctx, false, addr, buf, NULL, len, err);
}

static vr_err op_write_mem(void *ctx, uint32_t addr, const void *buf, size_t len,
			   struct vr_error *err)
{
	return transfer(ctx, true, addr, NULL, buf, len, err);
}

static vr_err check_word_addr(uint32_t addr, struct vr_error *err)
{
	if (addr & 3u)
		return vr_fail(err, VR_ERR_INTERNAL, "word access at unaligned address 0x%08X",
			       (unsigned)addr);
	return VR_OK;
}

static vr_err op_read_word(void *ctx, uint32_t addr, uint32_t *val, struct vr_error *err)
{
	struct stlink *s = ctx;
	vr_err rc = need_swd(s, err);
	if (rc == VR_OK)
		rc = check_word_addr(addr, err);
	if (rc != VR_OK)
		return rc;
	uint8_t reply[8];
	struct txn x = {.in = reply, .check = CHECK_REPLY, .what = "reading", .addr = addr,
			.has_addr = true};
	x.in_len = stlink_enc_read_debug_reg(x.cmd, addr);
	rc = run_txn(s, &x, err);
	if (rc == VR_OK)
		*val = get_le32(reply + 4);
	return rc;
}

static vr_err op_write_word(void *ctx, uint32_t addr, uint32_t val, struct vr_error *err)
{
	struct stlink *s = ctx;
	vr_err rc = need_swd(s, err);
	if (rc == VR_OK)
		rc = check_word_addr(addr, err);
	if (rc != VR_OK)
		return rc;
	uint8_t reply[2];
	struct txn x = {.in = reply, .check = CHECK_REPLY, .what = "writing", .addr = addr,
			.has_addr = true};
	x.in_len = stlink_enc_write_debug_reg(x.cmd, addr, val);
	return run_txn(s, &x, err);
}

static vr_err check_reg(unsigned reg, struct vr_error *err)
{
	if (reg > 20)
		return vr_fail(err, VR_ERR_INTERNAL, "no core register %u", reg);
	return VR_OK;
}

static vr_err op_read_core_reg(void *ctx, unsigned reg, uint32_t *val, struct vr_error *err)
{
	struct stlink *s = ctx;
	vr_err rc = need_swd(s, err);
	if (rc == VR_OK)
		rc = check_reg(reg, err);
	if (rc != VR_OK)
		return rc;
	uint8_t cmd[STLINK_CMD_SIZE], reply[8];
	size_t n = stlink_enc_read_reg(cmd, (uint8_t)reg);
	rc = simple(s, cmd, reply, n, CHECK_REPLY, "reading a core register (is the core halted?)",
		    err);
	if (rc == VR_OK)
		*val = get_le32(reply + 4);
	return rc;
}

static vr_err op_write_core_reg(void *ctx, unsigned reg, uint32_t val, struct vr_error *err)
{
	struct stlink *s = ctx;
	vr_err rc = need_swd(s, err);
	if (rc == VR_OK)
		rc = check_reg(reg, err);
	if (rc != VR_OK)
		return rc;
	uint8_t cmd[STLINK_CMD_SIZE], reply[2];
	size_t n = stlink_enc_write_reg(cmd, (uint8_t)reg, val);
	return simple(s, cmd, reply, n, CHECK_REPLY, "writing a core register (is the core halted?)",
		      err);
}

static vr_err op_system_reset(void *ctx, struct vr_error *err)
{
	struct stlink *s = ctx;
	vr_err rc = need_swd(s, err);
	if (rc != VR_OK)
		return rc;
	uint8_t cmd[STLINK_CMD_SIZE], reply[2];
	size_t n = stlink_enc_resetsys(cmd);
	return simple(s, cmd, reply, n, CHECK_REPLY, "resetting the target", err);
}

static void op_close(void *ctx)
{
	struct stlink *s = ctx;
	if (!s)
		return;
	if (s->in_swd) {
		/* Leave the probe idle for the next program; a failure here
		 * changes nothing for the person. */
		struct vr_error ignored;
		s->recovered_once = true;
		op_leave_swd(s, &ignored);
	}
	usb_transport_close(&s->t);
	free(s);
}

static const struct swd_probe_ops stlink_ops = {
	.target_voltage = op_target_voltage,
	.set_clock = op_set_clock,
	.drive_nrst = op_drive_nrst,
	.enter_swd = op_enter_swd,
	.leave_swd = op_leave_swd,
	.read_dpidr = op_read_dpidr,
	.read_mem = op_read_mem,
	.write_mem = op_write_mem,
	.read_word = op_read_word,
	.write_word = op_write_word,
	.read_core_reg = op_read_core_reg,
	.write_core_reg = op_write_core_reg,
	.system_reset = op_system_reset,
	.close = op_close,
};

static const char *model_name(const struct stlink_version *v, uint16_t pid)
{
	if (v->hw >= 4 || pid == 0x3757)
		return "STLINK-V3PWR";
	if (v->hw == 3)
		return "STLINK-V3";
	if (pid_is_v2_1(pid))
		return "ST-LINK/V2-1";
	return "ST-LINK/V2";
}

static void fill_info(const struct stlink *s, struct swd_probe_info *info)
{
	memset(info, 0, sizeof *info);
	snprintf(info->name, sizeof info->name, "%s", model_name(&s->ver, s->t.pid));
	stlink_version_string(&s->ver, info->version, sizeof info->version);
	snprintf(info->serial, sizeof info->serial, "%s", s->t.serial);
	info->vid = s->t.vid;
	info->pid = s->t.pid;
	info->can_drive_nrst = s->ver.api >= STLINK_API_V2;
	info->can_set_clock = (s->ver.features & (STLINK_F_SWD_SET_FREQ | STLINK_F_V3_FREQ)) != 0;
	info->senses_voltage = (s->ver.features & STLINK_F_VOLTAGE) != 0;
	info->max_block = s->max_block;
}

static unsigned clamp_block(unsigned bytes)
{
	if (bytes > MAX_CONFIGURABLE_BLOCK)
		bytes = MAX_CONFIGURABLE_BLOCK;
	bytes &= ~3u;
	return bytes < 4 ? 4 : bytes;
}

static void apply_options(struct stlink *s, const struct stlink_options *opts)
{
	s->timeout_ms = DEFAULT_TIMEOUT_MS;
	s->max_block = STLINK_MAX_BLOCK;
	s->tar_boundary = STLINK_TAR_BOUNDARY;
	s->sleep_ms = default_sleep_ms;
	if (!opts)
		return;
	if (opts->timeout_ms)
		s->timeout_ms = opts->timeout_ms;
	if (opts->max_block)
		s->max_block = clamp_block(opts->max_block);
	if (opts->tar_boundary && (opts->tar_boundary & (opts->tar_boundary - 1)) == 0)
		s->tar_boundary = opts->tar_boundary;
	if (opts->sleep_ms) {
		s->sleep_ms = opts->sleep_ms;
		s->sleep_ctx = opts->sleep_ctx;
	}
}

vr_err stlink_open_with(struct usb_transport *t, const struct stlink_options *opts,
			struct swd_probe *out, struct vr_error *err)
{
	memset(out, 0, sizeof *out);
	if (!t || !t->ops)
		return vr_fail(err, VR_ERR_INTERNAL, "stlink_open without a transport");
	struct stlink *s = calloc(1, sizeof *s);
	if (!s) {
		usb_transport_close(t);
		return vr_fail(err, VR_ERR_NOMEM, "out of memory opening the ST-Link");
	}
	s->t = *t;
	t->ops = NULL; /* ours now */
	apply_options(s, opts);

	vr_err rc = read_version(s, err);
	if (rc == VR_OK)
		rc = check_version(s, err);
	if (rc == VR_OK)
		rc = leave_current_mode(s, err);
	if (rc != VR_OK) {
		usb_transport_close(&s->t);
		free(s);
		return rc;
	}
	s->max_rw8 = (s->ver.features & STLINK_F_RW8_512) ? STLINK_MAX_RW8_V3 : STLINK_MAX_RW8_V2;
	out->ops = &stlink_ops;
	out->ctx = s;
	fill_info(s, &out->info);
	return VR_OK;
}

vr_err stlink_open(struct usb_transport *t, struct swd_probe *out, struct vr_error *err)
{
	return stlink_open_with(t, NULL, out, err);
}

static struct stlink *as_stlink(const struct swd_probe *p)
{
	if (!p || p->ops != &stlink_ops)
		return NULL;
	return p->ctx;
}

const struct stlink_stats *stlink_stats(const struct swd_probe *p)
{
	struct stlink *s = as_stlink(p);
	return s ? &s->stats : NULL;
}

const struct stlink_version *stlink_probe_version(const struct swd_probe *p)
{
	struct stlink *s = as_stlink(p);
	return s ? &s->ver : NULL;
}

bool stlink_set_transfer_limits(struct swd_probe *p, unsigned max_block, unsigned tar_boundary)
{
	struct stlink *s = as_stlink(p);
	if (!s)
		return false;
	if (max_block)
		s->max_block = clamp_block(max_block);
	if (tar_boundary && (tar_boundary & (tar_boundary - 1)) == 0)
		s->tar_boundary = tar_boundary;
	p->info.max_block = s->max_block;
	return true;
}
