/* The simulated ST-Link's firmware: decodes 16-byte commands, talks SWD to
 * the STM32F405 model, and queues replies with the byte layouts of
 * ../shared/reference/stlink-swd-stm32f4.md §2. Facts that no public source
 * pins down are marked [inferred] where they are decided. */
#include "bench/stlink_sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/f4_model.h"

#define CMD_SIZE 16u
/* The length field of memory commands is 16 bits. */
#define DATA_MAX 65536u
/* Replies the host has not read stay queued, as in the probe's endpoint. */
#define REPLY_MAX (DATA_MAX + 64u)
#define MAX_RW8_V2 64u
#define MAX_RW8_V3 512u
/* The probe firmware retries an AP WAIT itself before reporting it [inferred]. */
#define WAIT_RETRIES 8
#define WAIT_RETRY_US 50u

/* Top-level opcodes */
enum {
	OP_GET_VERSION = 0xF1,
	OP_DEBUG = 0xF2,
	OP_DFU = 0xF3,
	OP_SWIM = 0xF4,
	OP_GET_CURRENT_MODE = 0xF5,
	OP_GET_TARGET_VOLTAGE = 0xF7,
	OP_GET_VERSION_APIV3 = 0xFB,
};

/* Debug subcommands (F2 xx), API v2/v3 */
enum {
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
	DBG_READALLREGS = 0x3A,
	DBG_GETLASTRWSTATUS = 0x3B,
	DBG_DRIVE_NRST = 0x3C,
	DBG_GETLASTRWSTATUS2 = 0x3E,
	DBG_START_TRACE = 0x40,
	DBG_STOP_TRACE = 0x41,
	DBG_GET_TRACE_NB = 0x42,
	DBG_SWD_SET_FREQ = 0x43,
	DBG_JTAG_SET_FREQ = 0x44,
	DBG_READ_DAP_REG = 0x45,
	DBG_WRITE_DAP_REG = 0x46,
	DBG_READMEM_16 = 0x47,
	DBG_WRITEMEM_16 = 0x48,
	DBG_INIT_AP = 0x4B,
	DBG_CLOSE_AP = 0x4C,
	DBG_RW_MISC_OUT = 0x51,
	DBG_RW_MISC_IN = 0x52,
	DBG_SET_COM_FREQ = 0x61,
	DBG_GET_COM_FREQ = 0x62,
};

#define DFU_EXIT 0x07
#define DP_PORT 0xFFFFu
/* RW_MISC batches (OpenOCD's dapdirect driver): one operation byte per item,
 * padded to 4, then one 32-bit value per item. */
#define MISC_OP_ADDRESS 1
#define MISC_OP_WRITE 2
#define MISC_OP_READ 3
#define MISC_OP_APNUM 5
#define MISC_MAX_ITEMS 2048u

/* Cortex-M4 AHB-AP identification, as ADIv5 defines it for this core. */
#define AHB_AP_IDR 0x24770011u
#define AHB_AP_BASE 0xE00FF003u
#define AIRCR_ADDR 0xE000ED0Cu
#define AIRCR_SYSRESETREQ 0x05FA0004u

/* The probe's ADC: word 0 reads the 1.2 V reference, word 1 the target pin
 * behind a 1:2 divider, so V = 2.4 * a1 / a0 (reference §2.1, §7). */
#define VREFINT_COUNTS 1489u
#define CLONE_LDO_VOLTS 3.19

struct pending_write {
	bool active;
	bool misc;               /* an RW_MISC_OUT batch, not memory data */
	size_t items;            /* operations in that batch */
	unsigned width;          /* 1, 2 or 4 */
	uint32_t addr;
	size_t len, got;
};

struct stlink_sim {
	struct stlink_sim_config cfg;
	struct f4_model *target;
	struct bench_clock *clock;
	struct bench_timing timing;
	enum stlink_mode mode;
	uint64_t transfers;
	bool gone;
	bool claimed;
	uint8_t *reply;          /* queued reply bytes */
	size_t reply_len, reply_pos;
	uint8_t *data;           /* the probe's data buffer: a failed read leaves old bytes */
	uint8_t *scratch;
	struct pending_write write;
	uint16_t last_rw_status;
	uint32_t last_fault_addr;
	uint32_t dpidr;
	uint32_t dp_select, ap_tar, ap_csw;
	unsigned com_khz;
	/* results of the last RW_MISC_OUT batch, for RW_MISC_IN */
	uint32_t misc_value[MISC_MAX_ITEMS], misc_status[MISC_MAX_ITEMS];
	size_t misc_items;
};

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static bool is_v3(const struct stlink_sim *sim)
{
	return sim->cfg.pid == STLINK_SIM_PID_V3;
}

uint8_t stlink_sim_ep_out(uint16_t pid)
{
	return pid == STLINK_SIM_PID_V2 ? 0x02 : 0x01;
}

uint8_t stlink_sim_ep_in(uint16_t pid)
{
	(void)pid;
	return 0x81;
}

uint8_t stlink_sim_ep_trace(uint16_t pid)
{
	return pid == STLINK_SIM_PID_V2 ? 0x83 : 0x82;
}

const char *stlink_sim_model_name(uint16_t pid)
{
	switch (pid) {
	case STLINK_SIM_PID_V2: return "ST-LINK/V2";
	case STLINK_SIM_PID_V2_1: return "ST-LINK/V2-1";
	case STLINK_SIM_PID_V3: return "STLINK-V3";
	default: return "ST-LINK";
	}
}

void stlink_sim_config_defaults(struct stlink_sim_config *cfg, uint16_t pid)
{
	memset(cfg, 0, sizeof(*cfg));
	if (pid != STLINK_SIM_PID_V2_1 && pid != STLINK_SIM_PID_V3)
		pid = STLINK_SIM_PID_V2;
	cfg->pid = pid;
	/* Common firmware of each kind: V2J37S7, V2J40M27, V3J7M3B5S1. */
	cfg->jtag_version = pid == STLINK_SIM_PID_V2 ? 37 : pid == STLINK_SIM_PID_V2_1 ? 40 : 7;
	cfg->timeout_at = -1;
	cfg->gone_at = -1;
	snprintf(cfg->serial, sizeof(cfg->serial), "%s", "066EFF343533554157132139");
}

/* ---- time ------------------------------------------------------------- */

static void spend(struct stlink_sim *sim, uint64_t us)
{
	if (us == 0)
		return;
	if (sim->clock)
		bench_clock_advance(sim->clock, us);
	if (sim->target)
		f4_advance_us(sim->target, us);
}

void stlink_sim_pass_time(struct stlink_sim *sim, uint64_t us)
{
	spend(sim, us);
}

static uint64_t bulk_data_us(const struct stlink_sim *sim, size_t bytes)
{
	uint64_t rate = sim->timing.bulk_bytes_per_s ? sim->timing.bulk_bytes_per_s : 1000000u;
	/* A V3 is high-speed USB: twenty times the full-speed V2 figure. */
	if (is_v3(sim))
		rate *= 20;
	return (uint64_t)bytes * 1000000u / rate;
}

/* ---- replies ---------------------------------------------------------- */

static void queue_reply(struct stlink_sim *sim, const uint8_t *bytes, size_t len)
{
	if (sim->reply_pos == sim->reply_len)
		sim->reply_pos = sim->reply_len = 0;
	if (sim->reply_len + len > REPLY_MAX) {
		/* A host that never reads replies overflows nothing: old ones go. */
		sim->reply_pos = sim->reply_len = 0;
		if (len > REPLY_MAX)
			len = REPLY_MAX;
	}
	memcpy(sim->reply + sim->reply_len, bytes, len);
	sim->reply_len += len;
}

static void reply_status(struct stlink_sim *sim, uint8_t status)
{
	uint8_t r[2] = { status, 0 };
	queue_reply(sim, r, sizeof(r));
}

/* Status at [0], a 32-bit value at [4..7]. */
static void reply_status_word(struct stlink_sim *sim, uint8_t status, uint32_t value)
{
	uint8_t r[8] = { status, 0, 0, 0, 0, 0, 0, 0 };
	put_le32(r + 4, value);
	queue_reply(sim, r, sizeof(r));
}

/* ---- target access ---------------------------------------------------- */

static uint8_t ack_status(enum f4_ack ack)
{
	switch (ack) {
	case F4_ACK_OK: return STLINK_ST_OK;
	case F4_ACK_WAIT: return STLINK_ST_AP_WAIT;
	case F4_ACK_FAULT: return STLINK_ST_AP_FAULT;
	case F4_ACK_NONE: default: return STLINK_ST_DP_ERROR;
	}
}

/* Commands that need the SWD link say so when the probe is not in debug
 * mode or no DP answers [inferred: the firmware does not drive SWD then]. */
static bool debug_ready(const struct stlink_sim *sim)
{
	return sim->mode == STLINK_MODE_DEBUG;
}

static enum f4_ack mem_read(struct stlink_sim *sim, uint32_t addr, uint8_t *buf, size_t len,
			    unsigned width, uint32_t *fault_addr)
{
	enum f4_ack ack = F4_ACK_NONE;
	*fault_addr = addr;
	if (!debug_ready(sim))
		return F4_ACK_NONE;
	for (int i = 0; i <= WAIT_RETRIES; i++) {
		ack = f4_mem_read(sim->target, addr, buf, len, width, fault_addr);
		if (ack != F4_ACK_WAIT)
			break;
		spend(sim, WAIT_RETRY_US);
	}
	return ack;
}

static enum f4_ack mem_write(struct stlink_sim *sim, uint32_t addr, const uint8_t *buf, size_t len,
			     unsigned width, uint32_t *fault_addr)
{
	enum f4_ack ack = F4_ACK_NONE;
	*fault_addr = addr;
	if (!debug_ready(sim))
		return F4_ACK_NONE;
	for (int i = 0; i <= WAIT_RETRIES; i++) {
		ack = f4_mem_write(sim->target, addr, buf, len, width, fault_addr);
		if (ack != F4_ACK_WAIT)
			break;
		spend(sim, WAIT_RETRY_US);
	}
	return ack;
}

static enum f4_ack read_word(struct stlink_sim *sim, uint32_t addr, uint32_t *val)
{
	uint8_t b[4] = { 0 };
	uint32_t fault;
	enum f4_ack ack = mem_read(sim, addr, b, 4, 4, &fault);
	*val = get_le32(b);
	return ack;
}

static enum f4_ack write_word(struct stlink_sim *sim, uint32_t addr, uint32_t val)
{
	uint8_t b[4];
	uint32_t fault;
	put_le32(b, val);
	return mem_write(sim, addr, b, 4, 4, &fault);
}

static void set_rw_status(struct stlink_sim *sim, uint8_t status, uint32_t fault_addr)
{
	sim->last_rw_status = status;
	sim->last_fault_addr = status == STLINK_ST_OK ? 0 : fault_addr;
}

/* ---- top-level commands ------------------------------------------------ */

static void cmd_get_version(struct stlink_sim *sim)
{
	uint8_t r[6];
	unsigned hw = is_v3(sim) ? 3 : 2;
	unsigned jtag = is_v3(sim) ? 0 : sim->cfg.jtag_version & 0x3F;
	/* S (SWIM) on a V2, M (mass storage) on a V2-1; a V3 reports 0/0 here. */
	unsigned low = sim->cfg.pid == STLINK_SIM_PID_V2 ? 7 : sim->cfg.pid == STLINK_SIM_PID_V2_1 ? 27 : 0;
	uint16_t packed = (uint16_t)((hw << 12) | (jtag << 6) | low);
	r[0] = (uint8_t)(packed >> 8);
	r[1] = (uint8_t)packed;
	put_le16(r + 2, STLINK_SIM_VID);
	put_le16(r + 4, sim->cfg.pid);
	queue_reply(sim, r, sizeof(r));
}

static void cmd_get_version_v3(struct stlink_sim *sim)
{
	uint8_t r[12] = { 0 };
	r[0] = 3;                                   /* hardware */
	r[1] = 1;                                   /* SWIM */
	r[2] = (uint8_t)sim->cfg.jtag_version;      /* JTAG/SWD */
	r[3] = 3;                                   /* MSD */
	r[4] = 5;                                   /* bridge */
	put_le16(r + 8, STLINK_SIM_VID);
	put_le16(r + 10, sim->cfg.pid);
	queue_reply(sim, r, sizeof(r));
}

static void cmd_get_mode(struct stlink_sim *sim)
{
	uint8_t r[2] = { (uint8_t)sim->mode, 0 };
	queue_reply(sim, r, sizeof(r));
}

static void cmd_voltage(struct stlink_sim *sim)
{
	uint8_t r[8] = { 0 };
	/* A genuine probe senses the target's rail; a clone's pin is its own
	 * LDO output and reads that whatever the target does. */
	double volts = sim->cfg.is_clone ? CLONE_LDO_VOLTS : f4_model_vdd(sim->target);
	/* The ADC is not sampled in DFU mode (reference §2.1): zeros. */
	if (sim->mode != STLINK_MODE_DFU) {
		uint32_t pin = volts > 0 ? (uint32_t)(volts * VREFINT_COUNTS / 2.4 + 0.5) : 0;
		put_le32(r, VREFINT_COUNTS);
		put_le32(r + 4, pin);
	}
	queue_reply(sim, r, sizeof(r));
}

/* ---- debug commands ---------------------------------------------------- */

static void dbg_enter(struct stlink_sim *sim, const uint8_t *cmd)
{
	uint32_t dpidr = 0;
	enum f4_ack ack;
	if (cmd[2] != 0xA3 && cmd[2] != 0xA4 && cmd[2] != 0x00) {
		reply_status(sim, STLINK_ST_CMD_ERROR);
		return;
	}
	sim->mode = STLINK_MODE_DEBUG;
	ack = f4_swd_connect(sim->target, &dpidr);
	if (ack == F4_ACK_OK)
		sim->dpidr = dpidr;
	/* With no DP answering a real probe reports "get IDCODE error" (0x09):
	 * pyOCD and probe-rs users see exactly that with an unpowered target. */
	reply_status(sim, ack == F4_ACK_OK ? STLINK_ST_OK : STLINK_ST_GET_IDCODE_ERROR);
}

static void dbg_exit(struct stlink_sim *sim)
{
	if (sim->mode == STLINK_MODE_DEBUG)
		f4_swd_disconnect(sim->target);
	sim->mode = STLINK_MODE_MASS;
}

static void dbg_read_idcodes(struct stlink_sim *sim)
{
	uint8_t r[12] = { 0 };
	uint32_t dpidr = 0;
	bool ok = false;
	if (debug_ready(sim)) {
		if (f4_swd_attached(sim->target)) {
			dpidr = sim->dpidr;
			ok = true;
		} else if (f4_swd_connect(sim->target, &dpidr) == F4_ACK_OK) {
			sim->dpidr = dpidr;
			ok = true;
		}
	}
	r[0] = ok ? STLINK_ST_OK : STLINK_ST_GET_IDCODE_ERROR;
	put_le32(r + 4, ok ? dpidr : 0);
	queue_reply(sim, r, sizeof(r));
}

static unsigned max_rw8(const struct stlink_sim *sim)
{
	return is_v3(sim) && sim->cfg.jtag_version >= 6 ? MAX_RW8_V3 : MAX_RW8_V2;
}

/* Whether a memory command of this width, address and length is one the
 * probe carries out; otherwise the status it leaves behind. */
static uint8_t check_mem_args(const struct stlink_sim *sim, unsigned width, uint32_t addr,
			      size_t len)
{
	if (width == 1 && len > max_rw8(sim))
		return STLINK_ST_CMD_ERROR;
	if (addr % width != 0 || len % width != 0)
		return STLINK_ST_ALIGNMENT_ERROR;
	return STLINK_ST_OK;
}

static void dbg_readmem(struct stlink_sim *sim, const uint8_t *cmd, unsigned width)
{
	uint32_t addr = get_le32(cmd + 2);
	size_t len = get_le16(cmd + 6);
	size_t reply_len = (width == 1 && len == 1) ? 2 : len;
	uint32_t fault = addr;
	uint8_t status = check_mem_args(sim, width, addr, len);

	if (status == STLINK_ST_OK && len > 0) {
		enum f4_ack ack = mem_read(sim, addr, sim->scratch, len, width, &fault);
		size_t good = len;
		status = ack_status(ack);
		if (ack == F4_ACK_FAULT && fault >= addr && fault - addr < len)
			good = fault - addr;
		else if (ack != F4_ACK_OK)
			good = 0;
		/* Only what was really read replaces the buffer; the rest of the
		 * reply is whatever the buffer held before (stale bytes). */
		memcpy(sim->data, sim->scratch, good);
	}
	spend(sim, bulk_data_us(sim, reply_len));
	set_rw_status(sim, status, fault);
	queue_reply(sim, sim->data, reply_len);
}

static void dbg_writemem(struct stlink_sim *sim, const uint8_t *cmd, unsigned width)
{
	sim->write.misc = false;
	sim->write.addr = get_le32(cmd + 2);
	sim->write.len = get_le16(cmd + 6);
	sim->write.width = width;
	sim->write.got = 0;
	sim->write.active = sim->write.len > 0;
	if (!sim->write.active)
		set_rw_status(sim, STLINK_ST_OK, 0);
}

static void run_misc_batch(struct stlink_sim *sim);

static void finish_write(struct stlink_sim *sim)
{
	if (sim->write.misc) {
		sim->write.active = false;
		run_misc_batch(sim);
		return;
	}
	uint32_t fault = sim->write.addr;
	uint8_t status = check_mem_args(sim, sim->write.width, sim->write.addr, sim->write.len);
	sim->write.active = false;
	if (status == STLINK_ST_OK)
		status = ack_status(mem_write(sim, sim->write.addr, sim->data, sim->write.len,
					      sim->write.width, &fault));
	set_rw_status(sim, status, fault);
}

static void write_data_phase(struct stlink_sim *sim, const uint8_t *buf, size_t len)
{
	size_t room = sim->write.len - sim->write.got;
	size_t take = len < room ? len : room;
	memcpy(sim->data + sim->write.got, buf, take);
	sim->write.got += take;
	spend(sim, bulk_data_us(sim, len));
	if (sim->write.got == sim->write.len)
		finish_write(sim);
}

static void dbg_read_debugreg(struct stlink_sim *sim, const uint8_t *cmd)
{
	uint32_t val = 0;
	enum f4_ack ack = read_word(sim, get_le32(cmd + 2), &val);
	reply_status_word(sim, ack_status(ack), ack == F4_ACK_OK ? val : 0);
}

static void dbg_write_debugreg(struct stlink_sim *sim, const uint8_t *cmd)
{
	reply_status(sim, ack_status(write_word(sim, get_le32(cmd + 2), get_le32(cmd + 6))));
}

/* Core registers go through DCRSR/DCRDR, which answer only while halted;
 * the probe reports a generic fault otherwise [inferred]. */
static uint8_t core_status(enum f4_ack ack)
{
	return ack == F4_ACK_FAULT ? STLINK_ST_FAULT : ack_status(ack);
}

static void dbg_readreg(struct stlink_sim *sim, const uint8_t *cmd)
{
	uint32_t val = 0;
	enum f4_ack ack = debug_ready(sim) ? f4_core_reg_read(sim->target, cmd[2], &val)
					   : F4_ACK_NONE;
	reply_status_word(sim, core_status(ack), ack == F4_ACK_OK ? val : 0);
}

static void dbg_writereg(struct stlink_sim *sim, const uint8_t *cmd)
{
	enum f4_ack ack = debug_ready(sim) ? f4_core_reg_write(sim->target, cmd[2], get_le32(cmd + 3))
					   : F4_ACK_NONE;
	reply_status(sim, core_status(ack));
}

static void dbg_readallregs(struct stlink_sim *sim)
{
	uint8_t r[88] = { 0 };
	enum f4_ack first = F4_ACK_NONE;
	/* r0..r15, xPSR, MSP, PSP, then the two special-register words. */
	for (unsigned reg = 0; reg < 21 && debug_ready(sim); reg++) {
		uint32_t val = 0;
		enum f4_ack ack = f4_core_reg_read(sim->target, reg, &val);
		if (reg == 0)
			first = ack;
		if (ack == F4_ACK_OK)
			put_le32(r + 4 + 4 * reg, val);
	}
	r[0] = core_status(first);
	queue_reply(sim, r, sizeof(r));
}

static void dbg_lastrw(struct stlink_sim *sim, bool extended)
{
	if (extended) {
		uint8_t r[12] = { 0 };
		put_le16(r, sim->last_rw_status);
		put_le32(r + 4, sim->last_fault_addr);
		queue_reply(sim, r, sizeof(r));
	} else {
		reply_status(sim, (uint8_t)sim->last_rw_status);
	}
}

static void dbg_drive_nrst(struct stlink_sim *sim, const uint8_t *cmd)
{
	switch (cmd[2]) {
	case 0:
		f4_set_nrst(sim->target, true);
		break;
	case 1:
		f4_set_nrst(sim->target, false);
		break;
	case 2:
		f4_set_nrst(sim->target, true);
		spend(sim, 100);
		f4_set_nrst(sim->target, false);
		break;
	default:
		reply_status(sim, STLINK_ST_CMD_ERROR);
		return;
	}
	reply_status(sim, STLINK_ST_OK);
}

/* What RESETSYS does inside the probe is undocumented (reference §2.2);
 * a system reset request through AIRCR is what its effect looks like. */
static void dbg_resetsys(struct stlink_sim *sim)
{
	reply_status(sim, ack_status(write_word(sim, AIRCR_ADDR, AIRCR_SYSRESETREQ)));
}

/* V2 divisor table (reference §2.2). */
static unsigned swd_divisor_khz(unsigned divisor)
{
	static const struct { unsigned div, khz; } map[] = {
		{ 0, 4000 }, { 1, 1800 }, { 2, 1200 }, { 3, 950 }, { 7, 480 }, { 15, 240 },
		{ 31, 125 }, { 40, 100 }, { 79, 50 }, { 158, 25 }, { 265, 15 }, { 798, 5 },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (divisor <= map[i].div)
			return map[i].khz;
	return 5;
}

static void dbg_swd_set_freq(struct stlink_sim *sim, const uint8_t *cmd)
{
	if (is_v3(sim) || sim->cfg.jtag_version < 22) {
		reply_status(sim, STLINK_ST_UNKNOWN_CMD);
		return;
	}
	sim->com_khz = swd_divisor_khz(get_le16(cmd + 2));
	reply_status(sim, STLINK_ST_OK);
}

static void dbg_jtag_set_freq(struct stlink_sim *sim)
{
	reply_status(sim, is_v3(sim) || sim->cfg.jtag_version < 24 ? STLINK_ST_UNKNOWN_CMD
								   : STLINK_ST_OK);
}

static const uint32_t v3_swd_khz[] = { 24000, 8000, 3300, 1000, 200, 50, 5 };
#define V3_KHZ_COUNT (sizeof(v3_swd_khz) / sizeof(v3_swd_khz[0]))

static void dbg_get_com_freq(struct stlink_sim *sim)
{
	uint8_t r[52] = { 0 };
	if (!is_v3(sim)) {
		reply_status(sim, STLINK_ST_UNKNOWN_CMD);
		return;
	}
	r[0] = STLINK_ST_OK;
	put_le32(r + 4, sim->com_khz);
	put_le32(r + 8, (uint32_t)V3_KHZ_COUNT);
	for (size_t i = 0; i < V3_KHZ_COUNT; i++)
		put_le32(r + 12 + 4 * i, v3_swd_khz[i]);
	queue_reply(sim, r, sizeof(r));
}

static void dbg_set_com_freq(struct stlink_sim *sim, const uint8_t *cmd)
{
	uint32_t want = get_le32(cmd + 4);
	uint32_t got = v3_swd_khz[V3_KHZ_COUNT - 1];
	if (!is_v3(sim)) {
		reply_status(sim, STLINK_ST_UNKNOWN_CMD);
		return;
	}
	/* The fastest supported clock that does not exceed the request. */
	for (size_t i = 0; i < V3_KHZ_COUNT; i++) {
		if (v3_swd_khz[i] <= want) {
			got = v3_swd_khz[i];
			break;
		}
	}
	sim->com_khz = got;
	reply_status_word(sim, STLINK_ST_OK, got);
}

static enum f4_ack dp_read(struct stlink_sim *sim, unsigned reg, uint32_t *val)
{
	if (!debug_ready(sim) || !f4_swd_attached(sim->target))
		return F4_ACK_NONE;
	switch (reg & 0xF) {
	case 0x0: *val = sim->dpidr; break;
	case 0x4: *val = 0xF0000000u; break;  /* power-up requested and acknowledged */
	case 0x8: *val = sim->dp_select; break;
	default: *val = 0; break;
	}
	return F4_ACK_OK;
}

static enum f4_ack ap_read(struct stlink_sim *sim, unsigned reg, uint32_t *val)
{
	if (!debug_ready(sim) || !f4_swd_attached(sim->target))
		return F4_ACK_NONE;
	switch (reg) {
	case 0x00: *val = sim->ap_csw; return F4_ACK_OK;
	case 0x04: *val = sim->ap_tar; return F4_ACK_OK;
	case 0x0C: return read_word(sim, sim->ap_tar, val);
	case 0xF8: *val = AHB_AP_BASE; return F4_ACK_OK;
	case 0xFC: *val = AHB_AP_IDR; return F4_ACK_OK;
	default: *val = 0; return F4_ACK_OK;
	}
}

static void dbg_read_dap_reg(struct stlink_sim *sim, const uint8_t *cmd)
{
	unsigned port = get_le16(cmd + 2), reg = get_le16(cmd + 4);
	uint32_t val = 0;
	enum f4_ack ack;
	if (port == DP_PORT)
		ack = dp_read(sim, reg, &val);
	else if (port == 0)
		ack = ap_read(sim, reg, &val);
	else {
		reply_status_word(sim, STLINK_ST_BAD_AP, 0);
		return;
	}
	reply_status_word(sim, ack_status(ack), val);
}

static void dbg_write_dap_reg(struct stlink_sim *sim, const uint8_t *cmd)
{
	unsigned port = get_le16(cmd + 2), reg = get_le16(cmd + 4);
	uint32_t val = get_le32(cmd + 6);
	enum f4_ack ack = F4_ACK_OK;
	if (!debug_ready(sim) || !f4_swd_attached(sim->target)) {
		reply_status(sim, ack_status(F4_ACK_NONE));
		return;
	}
	if (port == DP_PORT) {
		/* ABORT (0) clears sticky errors; the model keeps none. */
		if ((reg & 0xF) == 0x8)
			sim->dp_select = val;
	} else if (port == 0) {
		if (reg == 0x00)
			sim->ap_csw = val;
		else if (reg == 0x04)
			sim->ap_tar = val;
		else if (reg == 0x0C)
			ack = write_word(sim, sim->ap_tar, val);
	} else {
		reply_status(sim, STLINK_ST_BAD_AP);
		return;
	}
	reply_status(sim, ack_status(ack));
}

static void dbg_init_ap(struct stlink_sim *sim, const uint8_t *cmd)
{
	if (sim->cfg.jtag_version < 28 && !is_v3(sim)) {
		reply_status(sim, STLINK_ST_UNKNOWN_CMD);
		return;
	}
	reply_status(sim, cmd[2] == 0 ? STLINK_ST_OK : STLINK_ST_BAD_AP);
}

static void dbg_trace_count(struct stlink_sim *sim)
{
	uint8_t r[2] = { 0, 0 };
	queue_reply(sim, r, sizeof(r));
}

static size_t align4(size_t n)
{
	return (n + 3u) & ~(size_t)3u;
}

static bool misc_supported(const struct stlink_sim *sim)
{
	return is_v3(sim) ? sim->cfg.jtag_version >= 2 : sim->cfg.jtag_version >= 32;
}

/* RW_MISC_OUT: the batch of operations arrives in the data phase. */
static void dbg_rw_misc_out(struct stlink_sim *sim, const uint8_t *cmd)
{
	uint32_t items = get_le32(cmd + 2);
	if (!misc_supported(sim)) {
		reply_status(sim, STLINK_ST_UNKNOWN_CMD);
		return;
	}
	if (items > MISC_MAX_ITEMS)
		items = MISC_MAX_ITEMS;   /* [inferred] the probe's buffer bounds a batch */
	sim->misc_items = 0;
	sim->write.misc = true;
	sim->write.width = 4;
	sim->write.items = items;
	sim->write.len = align4(items) + 4u * items;
	sim->write.got = 0;
	sim->write.active = sim->write.len > 0;
}

static void misc_item(struct stlink_sim *sim, size_t i, uint8_t op, uint32_t val, uint32_t *ap)
{
	uint32_t result = 0;
	enum f4_ack ack = F4_ACK_OK;
	switch (op) {
	case MISC_OP_APNUM:
		*ap = val;
		break;
	case MISC_OP_ADDRESS:
		sim->ap_tar = val;
		break;
	case MISC_OP_WRITE:
		ack = *ap == 0 ? write_word(sim, sim->ap_tar, val) : F4_ACK_FAULT;
		sim->ap_tar += 4;
		break;
	case MISC_OP_READ:
		ack = *ap == 0 ? read_word(sim, val, &result) : F4_ACK_FAULT;
		break;
	default:
		sim->misc_status[i] = STLINK_ST_CMD_ERROR;
		return;
	}
	sim->misc_value[i] = result;
	sim->misc_status[i] = *ap == 0 ? ack_status(ack) : STLINK_ST_BAD_AP;
}

static void run_misc_batch(struct stlink_sim *sim)
{
	size_t items = sim->write.items;
	const uint8_t *ops = sim->data, *vals = sim->data + align4(items);
	uint32_t ap = 0;
	for (size_t i = 0; i < items; i++)
		misc_item(sim, i, ops[i], get_le32(vals + 4 * i), &ap);
	sim->misc_items = items;
}

/* RW_MISC_IN: the values of the batch, then one status word per item. */
static void dbg_rw_misc_in(struct stlink_sim *sim)
{
	size_t n = sim->misc_items;
	if (!misc_supported(sim)) {
		reply_status(sim, STLINK_ST_UNKNOWN_CMD);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		put_le32(sim->scratch + 4 * i, sim->misc_value[i]);
		put_le32(sim->scratch + 4 * (n + i), sim->misc_status[i]);
	}
	queue_reply(sim, sim->scratch, 8 * n);
}

static void cmd_debug(struct stlink_sim *sim, const uint8_t *cmd)
{
	switch (cmd[1]) {
	case DBG_ENTER: dbg_enter(sim, cmd); break;
	case DBG_EXIT: dbg_exit(sim); break;
	case DBG_READ_IDCODES: dbg_read_idcodes(sim); break;
	case DBG_READMEM_32: dbg_readmem(sim, cmd, 4); break;
	case DBG_READMEM_16: dbg_readmem(sim, cmd, 2); break;
	case DBG_READMEM_8: dbg_readmem(sim, cmd, 1); break;
	case DBG_WRITEMEM_32: dbg_writemem(sim, cmd, 4); break;
	case DBG_WRITEMEM_16: dbg_writemem(sim, cmd, 2); break;
	case DBG_WRITEMEM_8: dbg_writemem(sim, cmd, 1); break;
	case DBG_READDEBUGREG: dbg_read_debugreg(sim, cmd); break;
	case DBG_WRITEDEBUGREG: dbg_write_debugreg(sim, cmd); break;
	case DBG_READREG: dbg_readreg(sim, cmd); break;
	case DBG_WRITEREG: dbg_writereg(sim, cmd); break;
	case DBG_READALLREGS: dbg_readallregs(sim); break;
	case DBG_GETLASTRWSTATUS: dbg_lastrw(sim, false); break;
	case DBG_GETLASTRWSTATUS2: dbg_lastrw(sim, true); break;
	case DBG_DRIVE_NRST: dbg_drive_nrst(sim, cmd); break;
	case DBG_RESETSYS: dbg_resetsys(sim); break;
	case DBG_SWD_SET_FREQ: dbg_swd_set_freq(sim, cmd); break;
	case DBG_JTAG_SET_FREQ: dbg_jtag_set_freq(sim); break;
	case DBG_GET_COM_FREQ: dbg_get_com_freq(sim); break;
	case DBG_SET_COM_FREQ: dbg_set_com_freq(sim, cmd); break;
	case DBG_RW_MISC_OUT: dbg_rw_misc_out(sim, cmd); break;
	case DBG_RW_MISC_IN: dbg_rw_misc_in(sim); break;
	case DBG_READ_DAP_REG: dbg_read_dap_reg(sim, cmd); break;
	case DBG_WRITE_DAP_REG: dbg_write_dap_reg(sim, cmd); break;
	case DBG_INIT_AP: dbg_init_ap(sim, cmd); break;
	case DBG_CLOSE_AP: reply_status(sim, STLINK_ST_OK); break;
	case DBG_START_TRACE:
	case DBG_STOP_TRACE: reply_status(sim, STLINK_ST_OK); break;
	case DBG_GET_TRACE_NB: dbg_trace_count(sim); break;
	default: reply_status(sim, STLINK_ST_UNKNOWN_CMD); break;
	}
}

static void run_command(struct stlink_sim *sim, const uint8_t *cmd)
{
	spend(sim, sim->timing.usb_round_trip_us);
	switch (cmd[0]) {
	case OP_GET_VERSION: cmd_get_version(sim); break;
	case OP_GET_VERSION_APIV3:
		if (is_v3(sim))
			cmd_get_version_v3(sim);
		else
			reply_status(sim, STLINK_ST_UNKNOWN_CMD);
		break;
	case OP_GET_CURRENT_MODE: cmd_get_mode(sim); break;
	case OP_GET_TARGET_VOLTAGE: cmd_voltage(sim); break;
	case OP_DFU:
		if (cmd[1] == DFU_EXIT && sim->mode == STLINK_MODE_DFU)
			sim->mode = STLINK_MODE_MASS;
		break;
	case OP_SWIM:
		/* SWIM_EXIT (F4 01) and the rest: this probe never enters SWIM,
		 * so there is nothing to leave and no reply. */
		break;
	case OP_DEBUG:
		if (sim->mode == STLINK_MODE_DFU)
			reply_status(sim, STLINK_ST_CMD_ERROR);
		else
			cmd_debug(sim, cmd);
		break;
	default: reply_status(sim, STLINK_ST_UNKNOWN_CMD); break;
	}
}

/* ---- USB side ---------------------------------------------------------- */

/* Counts the transfer and says whether the injected faults let it through. */
static enum stlink_xfer admit_transfer(struct stlink_sim *sim)
{
	if (sim->gone)
		return STLINK_XFER_GONE;
	sim->transfers++;
	if (sim->clock)
		sim->clock->usb_transfers++;
	if (sim->cfg.gone_at >= 0 && sim->transfers > (uint64_t)sim->cfg.gone_at) {
		sim->gone = true;
		return STLINK_XFER_GONE;
	}
	if (sim->cfg.timeout_at >= 0 && sim->transfers == (uint64_t)sim->cfg.timeout_at)
		return STLINK_XFER_TIMEOUT;
	if (sim->cfg.timeout_every > 0 && sim->transfers % (uint64_t)sim->cfg.timeout_every == 0)
		return STLINK_XFER_TIMEOUT;
	return STLINK_XFER_OK;
}

enum stlink_xfer stlink_sim_bulk_out(struct stlink_sim *sim, const uint8_t *buf, size_t len)
{
	uint8_t cmd[CMD_SIZE] = { 0 };
	enum stlink_xfer x = admit_transfer(sim);
	if (x != STLINK_XFER_OK)
		return x;
	if (sim->write.active) {
		write_data_phase(sim, buf, len);
		return STLINK_XFER_OK;
	}
	if (len == 0)
		return STLINK_XFER_OK;
	/* Short commands read as zero-padded; longer OUT packets carry only the
	 * 16 command bytes. */
	memcpy(cmd, buf, len < CMD_SIZE ? len : CMD_SIZE);
	run_command(sim, cmd);
	return STLINK_XFER_OK;
}

enum stlink_xfer stlink_sim_bulk_in(struct stlink_sim *sim, uint8_t *buf, size_t len, size_t *got)
{
	size_t avail, take;
	enum stlink_xfer x;
	*got = 0;
	x = admit_transfer(sim);
	if (x == STLINK_XFER_TIMEOUT) {
		/* The reply of this round trip is lost for good. */
		sim->reply_pos = sim->reply_len = 0;
		return x;
	}
	if (x != STLINK_XFER_OK)
		return x;
	avail = sim->reply_len - sim->reply_pos;
	if (avail == 0)
		return STLINK_XFER_TIMEOUT;
	take = len < avail ? len : avail;
	memcpy(buf, sim->reply + sim->reply_pos, take);
	sim->reply_pos += take;
	*got = take;
	return STLINK_XFER_OK;
}

void stlink_sim_usb_reset(struct stlink_sim *sim)
{
	sim->reply_pos = sim->reply_len = 0;
	sim->write.active = false;
}

bool stlink_sim_is_gone(const struct stlink_sim *sim)
{
	return sim->gone;
}

uint64_t stlink_sim_transfer_count(const struct stlink_sim *sim)
{
	return sim->transfers;
}

enum stlink_mode stlink_sim_mode(const struct stlink_sim *sim)
{
	return sim->mode;
}

const struct stlink_sim_config *stlink_sim_get_config(const struct stlink_sim *sim)
{
	return &sim->cfg;
}

struct stlink_sim *stlink_sim_new(const struct stlink_sim_config *cfg, struct f4_model *target,
				  struct bench_clock *clock, const struct bench_timing *timing,
				  struct vr_error *err)
{
	struct stlink_sim *sim;
	if (!cfg || !target) {
		vr_fail(err, VR_ERR_INTERNAL, "simulated ST-Link needs a configuration and a target");
		return NULL;
	}
	sim = calloc(1, sizeof(*sim));
	if (sim) {
		sim->reply = malloc(REPLY_MAX);
		sim->data = calloc(1, DATA_MAX);
		sim->scratch = malloc(DATA_MAX);
	}
	if (!sim || !sim->reply || !sim->data || !sim->scratch) {
		stlink_sim_free(sim);
		vr_fail(err, VR_ERR_NOMEM, "out of memory creating the simulated ST-Link");
		return NULL;
	}
	sim->cfg = *cfg;
	sim->target = target;
	sim->clock = clock;
	if (timing)
		sim->timing = *timing;
	else
		bench_timing_defaults(&sim->timing);
	sim->mode = cfg->start_in_dfu ? STLINK_MODE_DFU : STLINK_MODE_MASS;
	sim->com_khz = is_v3(sim) ? 1000 : 1800;
	sim->ap_csw = 0x03000052u;
	sim->last_rw_status = STLINK_ST_OK;
	return sim;
}

void stlink_sim_free(struct stlink_sim *sim)
{
	if (!sim)
		return;
	free(sim->reply);
	free(sim->data);
	free(sim->scratch);
	free(sim);
}

/* ---- in-process transport ---------------------------------------------- */

static vr_err xfer_error(struct stlink_sim *sim, enum stlink_xfer x, unsigned timeout_ms,
			 const char *what, struct vr_error *err)
{
	if (x == STLINK_XFER_GONE)
		return vr_fail(err, VR_ERR_GONE,
			       "the ST-Link disappeared from USB while %s (unplugged, or a loose "
			       "cable): plug it back in and run the command again", what);
	/* The host waited the whole timeout; the target kept running meanwhile. */
	spend(sim, (uint64_t)timeout_ms * 1000u);
	return vr_fail(err, VR_ERR_TIMEOUT,
		       "the ST-Link did not answer within %u ms while %s: unplug and replug it "
		       "if this repeats", timeout_ms, what);
}

static vr_err transport_out(void *ctx, const uint8_t *buf, size_t len, unsigned timeout_ms,
			    struct vr_error *err)
{
	struct stlink_sim *sim = ctx;
	enum stlink_xfer x = stlink_sim_bulk_out(sim, buf, len);
	return x == STLINK_XFER_OK ? VR_OK : xfer_error(sim, x, timeout_ms, "sending a command", err);
}

static vr_err transport_in(void *ctx, uint8_t *buf, size_t len, size_t *got, unsigned timeout_ms,
			   struct vr_error *err)
{
	struct stlink_sim *sim = ctx;
	enum stlink_xfer x = stlink_sim_bulk_in(sim, buf, len, got);
	return x == STLINK_XFER_OK ? VR_OK : xfer_error(sim, x, timeout_ms, "reading a reply", err);
}

static vr_err transport_reset(void *ctx, struct vr_error *err)
{
	struct stlink_sim *sim = ctx;
	if (sim->gone)
		return vr_fail(err, VR_ERR_GONE,
			       "the ST-Link is no longer on the USB bus: plug it back in");
	stlink_sim_usb_reset(sim);
	return VR_OK;
}

static void transport_close(void *ctx)
{
	struct stlink_sim *sim = ctx;
	sim->claimed = false;
}

static const struct usb_transport_ops sim_transport_ops = {
	.bulk_out = transport_out,
	.bulk_in = transport_in,
	.reset = transport_reset,
	.close = transport_close,
};

void stlink_sim_transport(struct stlink_sim *sim, struct usb_transport *out)
{
	memset(out, 0, sizeof(*out));
	out->ops = &sim_transport_ops;
	out->ctx = sim;
	out->vid = STLINK_SIM_VID;
	out->pid = sim->cfg.pid;
	snprintf(out->serial, sizeof(out->serial), "%s", sim->cfg.serial);
	snprintf(out->where, sizeof(out->where), "simulated");
	sim->claimed = true;
}
