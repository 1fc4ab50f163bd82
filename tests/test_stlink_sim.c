/* The simulated ST-Link against the byte layouts of
 * ../shared/reference/stlink-swd-stm32f4.md §1.3 and §2: command encodings
 * in, reply bytes out, with a real STM32F405 model behind it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/f4_model.h"
#include "bench/stlink_sim.h"
#include "bench/timing.h"

#define OPTCR_FACTORY 0x0FFFAAEDu
#define OPTCR_RDP1 0x0FFF55EDu
#define DPIDR_F4 0x2BA01477u

struct rig {
	struct bench_clock clock;
	struct bench_timing timing;
	struct f4_model *model;
	struct stlink_sim *sim;
	uint8_t *flash_image;
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A chip whose flash holds a recognisable pattern, behind a probe. */
static struct rig *rig_new(uint16_t pid, uint32_t optcr, double vdd, bool clone, bool dfu,
			   long timeout_at, long gone_at)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct f4_model_config mc;
	struct stlink_sim_config pc;
	struct vr_error err = { 0 };
	assert_non_null(r);
	bench_timing_defaults(&r->timing);
	r->flash_image = malloc(F4_FLASH_SIZE);
	assert_non_null(r->flash_image);
	for (size_t i = 0; i < F4_FLASH_SIZE; i++)
		r->flash_image[i] = (uint8_t)(i * 7 + (i >> 8));
	f4_model_config_defaults(&mc);
	mc.vdd = vdd;
	mc.optcr = optcr;
	mc.app_locks_swd = false;
	mc.flash_image = r->flash_image;
	mc.clock = &r->clock;
	mc.timing = r->timing;
	r->model = f4_model_new(&mc, &err);
	assert_non_null(r->model);
	stlink_sim_config_defaults(&pc, pid);
	pc.is_clone = clone;
	pc.start_in_dfu = dfu;
	pc.timeout_at = timeout_at;
	pc.gone_at = gone_at;
	r->sim = stlink_sim_new(&pc, r->model, &r->clock, &r->timing, &err);
	assert_non_null(r->sim);
	return r;
}

/* The same, with an application whose firmware turns SWD off once it runs. */
static struct rig *rig_lockout(void)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct f4_model_config mc;
	struct stlink_sim_config pc;
	struct vr_error err = { 0 };
	assert_non_null(r);
	bench_timing_defaults(&r->timing);
	r->flash_image = malloc(F4_FLASH_SIZE);
	assert_non_null(r->flash_image);
	memset(r->flash_image, 0xFF, F4_FLASH_SIZE);
	put32(r->flash_image, 0x20020000u);        /* initial SP */
	put32(r->flash_image + 4, 0x08000101u);    /* reset handler, Thumb */
	memset(r->flash_image + 0x100, 0x00, 0x100);  /* "code" */
	f4_model_config_defaults(&mc);
	mc.app_locks_swd = true;
	mc.flash_image = r->flash_image;
	mc.clock = &r->clock;
	mc.timing = r->timing;
	r->model = f4_model_new(&mc, &err);
	assert_non_null(r->model);
	stlink_sim_config_defaults(&pc, STLINK_SIM_PID_V2);
	r->sim = stlink_sim_new(&pc, r->model, &r->clock, &r->timing, &err);
	assert_non_null(r->sim);
	return r;
}

static struct rig *rig_default(void)
{
	return rig_new(STLINK_SIM_PID_V2, OPTCR_FACTORY, 3.3, false, false, -1, -1);
}

static void rig_free(struct rig *r)
{
	stlink_sim_free(r->sim);
	f4_model_free(r->model);
	free(r->flash_image);
	free(r);
}

/* Sends a command of up to 16 bytes, zero-padded, and reads `want` reply
 * bytes (0: no reply expected). Returns how many came. */
static size_t xfer(struct rig *r, const uint8_t *cmd, size_t cmd_len, uint8_t *reply, size_t want)
{
	uint8_t c[16] = { 0 };
	size_t got = 0;
	memcpy(c, cmd, cmd_len);
	assert_int_equal(stlink_sim_bulk_out(r->sim, c, sizeof(c)), STLINK_XFER_OK);
	if (want == 0)
		return 0;
	assert_int_equal(stlink_sim_bulk_in(r->sim, reply, want, &got), STLINK_XFER_OK);
	return got;
}

static void enter_swd(struct rig *r)
{
	const uint8_t cmd[] = { 0xF2, 0x30, 0xA3 };
	uint8_t rep[2];
	assert_int_equal(xfer(r, cmd, sizeof(cmd), rep, 2), 2);
	assert_int_equal(rep[0], STLINK_ST_OK);
}

static void mem_cmd(uint8_t *cmd, uint8_t op, uint32_t addr, uint16_t len)
{
	memset(cmd, 0, 16);
	cmd[0] = 0xF2;
	cmd[1] = op;
	put32(cmd + 2, addr);
	cmd[6] = (uint8_t)len;
	cmd[7] = (uint8_t)(len >> 8);
}

static void last_rw2(struct rig *r, uint16_t *status, uint32_t *fault)
{
	const uint8_t cmd[] = { 0xF2, 0x3E };
	uint8_t rep[12];
	assert_int_equal(xfer(r, cmd, sizeof(cmd), rep, 12), 12);
	*status = (uint16_t)(rep[0] | (rep[1] << 8));
	*fault = le32(rep + 4);
}

/* ---- tests ------------------------------------------------------------ */

static void test_version_v2_big_endian_fields(void **state)
{
	struct rig *r = rig_default();
	const uint8_t cmd[] = { 0xF1 };
	uint8_t rep[6];
	(void)state;
	assert_int_equal(xfer(r, cmd, 1, rep, 6), 6);
	/* hw 2, J37, S7: (2<<12)|(37<<6)|7 = 0x2947, big-endian; VID, PID LE. */
	assert_int_equal(rep[0], 0x29);
	assert_int_equal(rep[1], 0x47);
	assert_int_equal(rep[2] | (rep[3] << 8), 0x0483);
	assert_int_equal(rep[4] | (rep[5] << 8), 0x3748);
	rig_free(r);
}

static void test_version_v21_and_v3(void **state)
{
	struct rig *r = rig_new(STLINK_SIM_PID_V2_1, OPTCR_FACTORY, 3.3, false, false, -1, -1);
	const uint8_t v1[] = { 0xF1 }, v3cmd[] = { 0xFB };
	uint8_t rep[12];
	(void)state;
	xfer(r, v1, 1, rep, 6);
	assert_int_equal((rep[0] << 8 | rep[1]) >> 12, 2);
	assert_int_equal(((rep[0] << 8 | rep[1]) >> 6) & 0x3F, 40);
	assert_int_equal(rep[4] | (rep[5] << 8), 0x374B);
	/* A V2-1 does not know the V3 version command. */
	assert_int_equal(xfer(r, v3cmd, 1, rep, 12), 2);
	assert_int_equal(rep[0], STLINK_ST_UNKNOWN_CMD);
	rig_free(r);

	r = rig_new(STLINK_SIM_PID_V3, OPTCR_FACTORY, 3.3, false, false, -1, -1);
	xfer(r, v1, 1, rep, 6);
	assert_int_equal(rep[0], 0x30);   /* hw 3, J0, S0 */
	assert_int_equal(rep[1], 0x00);
	assert_int_equal(xfer(r, v3cmd, 1, rep, 12), 12);
	assert_int_equal(rep[0], 3);
	assert_int_equal(rep[2], 7);      /* JTAG/SWD version */
	assert_int_equal(rep[8] | (rep[9] << 8), 0x0483);
	assert_int_equal(rep[10] | (rep[11] << 8), 0x374E);
	rig_free(r);
}

static void test_mode_dfu_until_exit(void **state)
{
	struct rig *r = rig_new(STLINK_SIM_PID_V2, OPTCR_FACTORY, 3.3, false, true, -1, -1);
	const uint8_t mode[] = { 0xF5 }, dfu_exit[] = { 0xF3, 0x07 }, enter[] = { 0xF2, 0x30, 0xA3 };
	uint8_t rep[2];
	(void)state;
	xfer(r, mode, 1, rep, 2);
	assert_int_equal(rep[0], STLINK_MODE_DFU);
	xfer(r, dfu_exit, 2, rep, 0);
	xfer(r, mode, 1, rep, 2);
	assert_int_equal(rep[0], STLINK_MODE_MASS);
	xfer(r, enter, 3, rep, 2);
	assert_int_equal(rep[0], STLINK_ST_OK);
	xfer(r, mode, 1, rep, 2);
	assert_int_equal(rep[0], STLINK_MODE_DEBUG);
	rig_free(r);
}

static double volts_of(const uint8_t *rep)
{
	uint32_t a0 = le32(rep), a1 = le32(rep + 4);
	return a0 ? 2.4 * a1 / a0 : 0.0;
}

static void test_voltage_genuine_senses_clone_supplies(void **state)
{
	const uint8_t cmd[] = { 0xF7 };
	uint8_t rep[8];
	struct rig *r = rig_default();
	(void)state;
	assert_int_equal(xfer(r, cmd, 1, rep, 8), 8);
	assert_true(volts_of(rep) > 3.28 && volts_of(rep) < 3.32);
	rig_free(r);

	r = rig_new(STLINK_SIM_PID_V2, OPTCR_FACTORY, 0.0, false, false, -1, -1);
	xfer(r, cmd, 1, rep, 8);
	assert_true(volts_of(rep) < 0.1);
	rig_free(r);

	/* A clone reads its own LDO even with the target unpowered. */
	r = rig_new(STLINK_SIM_PID_V2, OPTCR_FACTORY, 0.0, true, false, -1, -1);
	xfer(r, cmd, 1, rep, 8);
	assert_true(volts_of(rep) > 3.1 && volts_of(rep) < 3.3);
	rig_free(r);
}

static void test_enter_and_idcodes(void **state)
{
	const uint8_t ids[] = { 0xF2, 0x31 }, enter[] = { 0xF2, 0x30, 0xA3 };
	uint8_t rep[12];
	struct rig *r = rig_default();
	(void)state;
	enter_swd(r);
	assert_int_equal(xfer(r, ids, 2, rep, 12), 12);
	assert_int_equal(rep[0], STLINK_ST_OK);
	assert_int_equal(le32(rep + 4), DPIDR_F4);
	rig_free(r);

	/* Unpowered target: no DP answers, the probe says "get IDCODE error". */
	r = rig_new(STLINK_SIM_PID_V2, OPTCR_FACTORY, 0.0, false, false, -1, -1);
	xfer(r, enter, 3, rep, 2);
	assert_int_equal(rep[0], STLINK_ST_GET_IDCODE_ERROR);
	xfer(r, ids, 2, rep, 12);
	assert_int_equal(rep[0], STLINK_ST_GET_IDCODE_ERROR);
	rig_free(r);
}

static void test_debugreg_reads_ids(void **state)
{
	uint8_t cmd[16] = { 0xF2, 0x36 }, rep[8];
	struct rig *r = rig_default();
	(void)state;
	enter_swd(r);
	put32(cmd + 2, 0xE0042000u);
	assert_int_equal(xfer(r, cmd, 6, rep, 8), 8);
	assert_int_equal(rep[0], STLINK_ST_OK);
	assert_int_equal(le32(rep + 4) & 0xFFF, 0x413);
	put32(cmd + 2, 0xE000ED00u);
	xfer(r, cmd, 6, rep, 8);
	assert_int_equal(le32(rep + 4), 0x410FC241u);
	rig_free(r);
}

static void test_readmem32_flash_then_status(void **state)
{
	uint8_t cmd[16], rep[256];
	uint16_t st;
	uint32_t fault;
	struct rig *r = rig_default();
	(void)state;
	enter_swd(r);
	mem_cmd(cmd, 0x07, 0x08000100u, 256);
	assert_int_equal(xfer(r, cmd, 16, rep, 256), 256);
	assert_memory_equal(rep, r->flash_image + 0x100, 256);
	last_rw2(r, &st, &fault);
	assert_int_equal(st, STLINK_ST_OK);
	rig_free(r);
}

static void test_readmem_rdp1_faults_with_address_and_stale_bytes(void **state)
{
	uint8_t cmd[16], first[64], rep[64];
	uint16_t st;
	uint32_t fault;
	struct rig *r = rig_new(STLINK_SIM_PID_V2, OPTCR_RDP1, 3.3, false, false, -1, -1);
	(void)state;
	enter_swd(r);
	/* SRAM stays readable under RDP1 and fills the probe's buffer. */
	mem_cmd(cmd, 0x07, 0x20000000u, 64);
	xfer(r, cmd, 16, first, 64);
	last_rw2(r, &st, &fault);
	assert_int_equal(st, STLINK_ST_OK);
	mem_cmd(cmd, 0x07, 0x08000000u, 64);
	assert_int_equal(xfer(r, cmd, 16, rep, 64), 64);
	last_rw2(r, &st, &fault);
	assert_int_equal(st, STLINK_ST_AP_FAULT);
	assert_int_equal(fault, 0x08000000u);
	/* No status byte in a READMEM reply: what came back is stale data. */
	assert_memory_equal(rep, first, 64);
	assert_memory_not_equal(rep, r->flash_image, 64);
	/* The old two-byte status says the same. */
	{
		const uint8_t old[] = { 0xF2, 0x3B };
		uint8_t s[2];
		assert_int_equal(xfer(r, old, 2, s, 2), 2);
		assert_int_equal(s[0], STLINK_ST_AP_FAULT);
	}
	rig_free(r);
}

static void test_writemem_data_phase_on_next_out(void **state)
{
	uint8_t cmd[16], data[512], back[512];
	uint16_t st;
	uint32_t fault;
	size_t got;
	struct rig *r = rig_default();
	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0xA5 ^ i);
	enter_swd(r);
	mem_cmd(cmd, 0x08, 0x20001000u, sizeof(data));
	assert_int_equal(stlink_sim_bulk_out(r->sim, cmd, 16), STLINK_XFER_OK);
	/* No reply to the command itself. */
	assert_int_equal(stlink_sim_bulk_in(r->sim, back, 2, &got), STLINK_XFER_TIMEOUT);
	/* The data phase may come in pieces. */
	assert_int_equal(stlink_sim_bulk_out(r->sim, data, 200), STLINK_XFER_OK);
	assert_int_equal(stlink_sim_bulk_out(r->sim, data + 200, 312), STLINK_XFER_OK);
	last_rw2(r, &st, &fault);
	assert_int_equal(st, STLINK_ST_OK);
	mem_cmd(cmd, 0x07, 0x20001000u, sizeof(back));
	xfer(r, cmd, 16, back, sizeof(back));
	assert_memory_equal(back, data, sizeof(data));
	rig_free(r);
}

static void test_mem8_and_alignment(void **state)
{
	uint8_t cmd[16], rep[64];
	uint16_t st;
	uint32_t fault;
	struct rig *r = rig_default();
	(void)state;
	enter_swd(r);
	/* An 8-bit read of one byte returns two. */
	mem_cmd(cmd, 0x0C, 0x08000003u, 1);
	assert_int_equal(xfer(r, cmd, 16, rep, 64), 2);
	assert_int_equal(rep[0], r->flash_image[3]);
	/* V2: at most 64 bytes per 8-bit command. */
	mem_cmd(cmd, 0x0C, 0x08000000u, 65);
	xfer(r, cmd, 16, rep, 64);
	stlink_sim_usb_reset(r->sim);
	last_rw2(r, &st, &fault);
	assert_int_not_equal(st, STLINK_ST_OK);
	/* 32-bit access needs 4-aligned address and length. */
	mem_cmd(cmd, 0x07, 0x08000002u, 8);
	xfer(r, cmd, 16, rep, 8);
	last_rw2(r, &st, &fault);
	assert_int_equal(st, STLINK_ST_ALIGNMENT_ERROR);
	rig_free(r);
}

static void test_core_registers_when_halted(void **state)
{
	uint8_t cmd[16] = { 0xF2, 0x35 }, rep[88];
	struct rig *r = rig_default();
	(void)state;
	enter_swd(r);
	put32(cmd + 2, 0xE000EDF0u);
	put32(cmd + 6, 0xA05F0003u);   /* halt */
	xfer(r, cmd, 10, rep, 2);
	assert_int_equal(rep[0], STLINK_ST_OK);
	memset(cmd, 0, sizeof(cmd));
	cmd[0] = 0xF2;
	cmd[1] = 0x34;
	cmd[2] = 2;
	put32(cmd + 3, 0x12345678u);
	xfer(r, cmd, 7, rep, 2);
	assert_int_equal(rep[0], STLINK_ST_OK);
	cmd[1] = 0x33;
	xfer(r, cmd, 3, rep, 8);
	assert_int_equal(rep[0], STLINK_ST_OK);
	assert_int_equal(le32(rep + 4), 0x12345678u);
	cmd[1] = 0x3A;
	assert_int_equal(xfer(r, cmd, 2, rep, 88), 88);
	assert_int_equal(rep[0], STLINK_ST_OK);
	assert_int_equal(le32(rep + 4 + 2 * 4), 0x12345678u);
	rig_free(r);
}

static void test_clock_commands(void **state)
{
	uint8_t rep[52];
	const uint8_t v2freq[] = { 0xF2, 0x43, 0x01, 0x00 };
	uint8_t set[16] = { 0xF2, 0x61, 0x00, 0x00 };
	const uint8_t get[] = { 0xF2, 0x62, 0x00 };
	struct rig *r = rig_default();
	(void)state;
	xfer(r, v2freq, sizeof(v2freq), rep, 2);
	assert_int_equal(rep[0], STLINK_ST_OK);
	xfer(r, get, sizeof(get), rep, 2);
	assert_int_equal(rep[0], STLINK_ST_UNKNOWN_CMD);
	rig_free(r);

	r = rig_new(STLINK_SIM_PID_V3, OPTCR_FACTORY, 3.3, false, false, -1, -1);
	put32(set + 4, 4000);
	assert_int_equal(xfer(r, set, 8, rep, 8), 8);
	assert_int_equal(rep[0], STLINK_ST_OK);
	assert_int_equal(le32(rep + 4), 3300);
	assert_int_equal(xfer(r, get, sizeof(get), rep, 52), 52);
	assert_int_equal(le32(rep + 4), 3300);
	assert_true(le32(rep + 8) >= 1 && le32(rep + 8) <= 10);
	xfer(r, v2freq, sizeof(v2freq), rep, 2);
	assert_int_equal(rep[0], STLINK_ST_UNKNOWN_CMD);
	rig_free(r);
}

static void test_nrst_and_unknown_commands(void **state)
{
	const uint8_t nrst_low[] = { 0xF2, 0x3C, 0x00 }, nrst_high[] = { 0xF2, 0x3C, 0x01 };
	const uint8_t unknown_dbg[] = { 0xF2, 0x7E }, unknown_top[] = { 0x99 };
	uint8_t rep[2];
	struct rig *r = rig_default();
	(void)state;
	xfer(r, nrst_low, 3, rep, 2);
	assert_int_equal(rep[0], STLINK_ST_OK);
	xfer(r, nrst_high, 3, rep, 2);
	assert_int_equal(rep[0], STLINK_ST_OK);
	xfer(r, unknown_dbg, 2, rep, 2);
	assert_int_equal(rep[0], STLINK_ST_UNKNOWN_CMD);
	xfer(r, unknown_top, 1, rep, 2);
	assert_int_equal(rep[0], STLINK_ST_UNKNOWN_CMD);
	rig_free(r);
}

static void test_timeout_at_loses_one_reply(void **state)
{
	const uint8_t ver[16] = { 0xF1 };
	uint8_t rep[6];
	size_t got;
	/* Transfer 2 is the IN of the first round trip. */
	struct rig *r = rig_new(STLINK_SIM_PID_V2, OPTCR_FACTORY, 3.3, false, false, 2, -1);
	(void)state;
	assert_int_equal(stlink_sim_bulk_out(r->sim, ver, 16), STLINK_XFER_OK);
	assert_int_equal(stlink_sim_bulk_in(r->sim, rep, 6, &got), STLINK_XFER_TIMEOUT);
	assert_int_equal(got, 0);
	/* The next round trip works and is not polluted by the lost reply. */
	assert_int_equal(stlink_sim_bulk_out(r->sim, ver, 16), STLINK_XFER_OK);
	assert_int_equal(stlink_sim_bulk_in(r->sim, rep, 6, &got), STLINK_XFER_OK);
	assert_int_equal(got, 6);
	assert_int_equal(rep[4] | (rep[5] << 8), 0x3748);
	assert_int_equal(stlink_sim_transfer_count(r->sim), 4);
	rig_free(r);
}

static void test_gone_at_fails_everything_after(void **state)
{
	const uint8_t ver[16] = { 0xF1 };
	uint8_t rep[6];
	size_t got;
	struct usb_transport t;
	struct vr_error err = { 0 };
	struct rig *r = rig_new(STLINK_SIM_PID_V2, OPTCR_FACTORY, 3.3, false, false, -1, 3);
	(void)state;
	stlink_sim_transport(r->sim, &t);
	assert_int_equal(usb_transport_out(&t, ver, 16, 3000, &err), VR_OK);
	assert_int_equal(usb_transport_in(&t, rep, 6, &got, 3000, &err), VR_OK);
	assert_int_equal(usb_transport_out(&t, ver, 16, 3000, &err), VR_OK);
	assert_int_equal(usb_transport_in(&t, rep, 6, &got, 3000, &err), VR_ERR_GONE);
	assert_non_null(strstr(err.msg, "plug it back in"));
	assert_true(stlink_sim_is_gone(r->sim));
	assert_int_equal(usb_transport_out(&t, ver, 16, 3000, &err), VR_ERR_GONE);
	assert_int_equal(t.ops->reset(t.ctx, &err), VR_ERR_GONE);
	usb_transport_close(&t);
	rig_free(r);
}

static void test_transport_timeout_advances_clock(void **state)
{
	uint8_t rep[6];
	size_t got;
	struct usb_transport t;
	struct vr_error err = { 0 };
	struct rig *r = rig_default();
	uint64_t before;
	(void)state;
	stlink_sim_transport(r->sim, &t);
	assert_int_equal(t.vid, 0x0483);
	assert_int_equal(t.pid, 0x3748);
	assert_int_equal(strlen(t.serial), 24);
	before = r->clock.now_us;
	/* Nothing was asked: the IN waits out the host's timeout. */
	assert_int_equal(usb_transport_in(&t, rep, 6, &got, 500, &err), VR_ERR_TIMEOUT);
	assert_true(r->clock.now_us - before >= 500000u);
	usb_transport_close(&t);
	rig_free(r);
}

static void test_command_costs_round_trip(void **state)
{
	const uint8_t ver[] = { 0xF1 };
	uint8_t rep[6];
	struct rig *r = rig_default();
	uint64_t t0 = r->clock.now_us, n0 = r->clock.usb_transfers;
	(void)state;
	xfer(r, ver, 1, rep, 6);
	assert_true(r->clock.now_us - t0 >= r->timing.usb_round_trip_us);
	assert_int_equal(r->clock.usb_transfers - n0, 2);
	rig_free(r);
}

static void write_debugreg(struct rig *r, uint32_t addr, uint32_t val)
{
	uint8_t cmd[16] = { 0xF2, 0x35 }, rep[2];
	put32(cmd + 2, addr);
	put32(cmd + 6, val);
	xfer(r, cmd, 10, rep, 2);
	assert_int_equal(rep[0], STLINK_ST_OK);
}

static uint32_t read_debugreg(struct rig *r, uint32_t addr)
{
	uint8_t cmd[16] = { 0xF2, 0x36 }, rep[8];
	put32(cmd + 2, addr);
	xfer(r, cmd, 6, rep, 8);
	assert_int_equal(rep[0], STLINK_ST_OK);
	return le32(rep + 4);
}

static void write_reg(struct rig *r, unsigned reg, uint32_t val)
{
	uint8_t cmd[16] = { 0xF2, 0x34 }, rep[2];
	cmd[2] = (uint8_t)reg;
	put32(cmd + 3, val);
	xfer(r, cmd, 7, rep, 2);
	assert_int_equal(rep[0], STLINK_ST_OK);
}

/* A host runs code on the target the way the flash tools run their
 * loaders: WRITEMEM into SRAM, registers, DHCSR run, poll for the halt.
 * The code (adds r0, r0, r1; bkpt #0) really executes on the model's core
 * while the host's polls let time pass. */
static void test_code_runs_on_target_while_host_polls(void **state)
{
	const uint8_t code[4] = { 0x40, 0x18, 0x00, 0xBE };
	uint8_t cmd[16], rep[8];
	uint32_t dhcsr = 0;
	struct rig *r = rig_default();
	(void)state;
	enter_swd(r);
	write_debugreg(r, 0xE000EDF0u, 0xA05F0003u);
	mem_cmd(cmd, 0x08, 0x20000000u, sizeof(code));
	assert_int_equal(stlink_sim_bulk_out(r->sim, cmd, 16), STLINK_XFER_OK);
	assert_int_equal(stlink_sim_bulk_out(r->sim, code, sizeof(code)), STLINK_XFER_OK);
	write_reg(r, 0, 40);
	write_reg(r, 1, 2);
	write_reg(r, 16, 0x01000000u);   /* xPSR: Thumb */
	write_reg(r, 15, 0x20000000u);
	write_debugreg(r, 0xE000EDF0u, 0xA05F0001u);   /* run */
	for (int i = 0; i < 100 && !(dhcsr & (1u << 17)); i++)
		dhcsr = read_debugreg(r, 0xE000EDF0u);
	assert_true(dhcsr & (1u << 17));   /* S_HALT */
	memset(cmd, 0, sizeof(cmd));
	cmd[0] = 0xF2;
	cmd[1] = 0x33;
	cmd[2] = 0;
	xfer(r, cmd, 3, rep, 8);
	assert_int_equal(rep[0], STLINK_ST_OK);
	assert_int_equal(le32(rep + 4), 42);
	cmd[2] = 15;
	xfer(r, cmd, 3, rep, 8);
	assert_int_equal(le32(rep + 4), 0x20000002u);   /* stopped at the BKPT */
	rig_free(r);
}

/* Firmware that disables SWD: a plain ENTER finds no DP; with NRST held
 * low first (connect-under-reset) the DP answers. */
static void test_lockout_needs_nrst_low(void **state)
{
	const uint8_t enter[] = { 0xF2, 0x30, 0xA3 }, nrst_low[] = { 0xF2, 0x3C, 0x00 };
	uint8_t rep[2];
	struct rig *r = rig_lockout();
	(void)state;
	stlink_sim_pass_time(r->sim, 100000);   /* the application has been running */
	xfer(r, enter, 3, rep, 2);
	assert_int_equal(rep[0], STLINK_ST_GET_IDCODE_ERROR);
	xfer(r, nrst_low, 3, rep, 2);
	assert_int_equal(rep[0], STLINK_ST_OK);
	xfer(r, enter, 3, rep, 2);
	assert_int_equal(rep[0], STLINK_ST_OK);
	rig_free(r);
}

/* What OpenOCD's dapdirect driver uses: DAP registers and RW_MISC batches. */
static void test_dap_registers_and_misc_batch(void **state)
{
	uint8_t cmd[16] = { 0xF2, 0x45, 0xFF, 0xFF, 0x00, 0x00 }, rep[32];
	uint8_t batch[4 + 16] = { 5, 1, 2, 3 };   /* APNUM, ADDRESS, WRITE, READ */
	const uint8_t misc_in[] = { 0xF2, 0x52 };
	struct rig *r = rig_default();
	(void)state;
	enter_swd(r);
	assert_int_equal(xfer(r, cmd, 6, rep, 8), 8);   /* DP register 0: DPIDR */
	assert_int_equal(rep[0], STLINK_ST_OK);
	assert_int_equal(le32(rep + 4), DPIDR_F4);
	cmd[2] = 0;    /* AP 0 */
	cmd[3] = 0;
	cmd[4] = 0xFC; /* IDR */
	xfer(r, cmd, 6, rep, 8);
	assert_int_equal(le32(rep + 4) & 0x0FFFFFFFu, 0x04770011u);
	put32(batch + 4, 0);
	put32(batch + 8, 0x20000100u);
	put32(batch + 12, 0xDEADBEEFu);
	put32(batch + 16, 0x20000100u);
	memset(cmd, 0, sizeof(cmd));
	cmd[0] = 0xF2;
	cmd[1] = 0x51;
	put32(cmd + 2, 4);
	assert_int_equal(stlink_sim_bulk_out(r->sim, cmd, 16), STLINK_XFER_OK);
	assert_int_equal(stlink_sim_bulk_out(r->sim, batch, sizeof(batch)), STLINK_XFER_OK);
	/* Values of the four items, then one status word each. */
	assert_int_equal(xfer(r, misc_in, 2, rep, 32), 32);
	assert_int_equal(le32(rep + 12), 0xDEADBEEFu);
	for (int i = 0; i < 4; i++)
		assert_int_equal(le32(rep + 16 + 4 * i), STLINK_ST_OK);
	rig_free(r);
}

/* Garbage in never crashes, and the probe keeps answering afterwards. */
static void test_random_commands_never_crash(void **state)
{
	uint8_t cmd[16], rep[4096];
	size_t got;
	uint32_t seed = 12345;
	const uint8_t ver[] = { 0xF1 };
	struct rig *r = rig_default();
	(void)state;
	for (int i = 0; i < 3000; i++) {
		for (int k = 0; k < 16; k++) {
			seed = seed * 1103515245u + 12345u;
			cmd[k] = (uint8_t)(seed >> 16);
		}
		if (i % 3 == 0)
			cmd[0] = 0xF2;
		/* Keep lengths small so the test stays fast. */
		cmd[7] = 0;
		stlink_sim_bulk_out(r->sim, cmd, 16);
		stlink_sim_bulk_in(r->sim, rep, sizeof(rep), &got);
	}
	stlink_sim_usb_reset(r->sim);
	assert_int_equal(xfer(r, ver, 1, rep, 6), 6);
	assert_int_equal(rep[4] | (rep[5] << 8), 0x3748);
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_v2_big_endian_fields),
		cmocka_unit_test(test_version_v21_and_v3),
		cmocka_unit_test(test_mode_dfu_until_exit),
		cmocka_unit_test(test_voltage_genuine_senses_clone_supplies),
		cmocka_unit_test(test_enter_and_idcodes),
		cmocka_unit_test(test_debugreg_reads_ids),
		cmocka_unit_test(test_readmem32_flash_then_status),
		cmocka_unit_test(test_readmem_rdp1_faults_with_address_and_stale_bytes),
		cmocka_unit_test(test_writemem_data_phase_on_next_out),
		cmocka_unit_test(test_mem8_and_alignment),
		cmocka_unit_test(test_core_registers_when_halted),
		cmocka_unit_test(test_clock_commands),
		cmocka_unit_test(test_nrst_and_unknown_commands),
		cmocka_unit_test(test_timeout_at_loses_one_reply),
		cmocka_unit_test(test_gone_at_fails_everything_after),
		cmocka_unit_test(test_transport_timeout_advances_clock),
		cmocka_unit_test(test_command_costs_round_trip),
		cmocka_unit_test(test_code_runs_on_target_while_host_polls),
		cmocka_unit_test(test_lockout_needs_nrst_low),
		cmocka_unit_test(test_dap_registers_and_misc_batch),
		cmocka_unit_test(test_random_commands_never_crash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
