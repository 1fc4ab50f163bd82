/* ST-Link driver: command encodings against the byte layouts of
 * ../shared/reference/stlink-swd-stm32f4.md §2, version and voltage
 * decoding, status mapping; then the driver's retry, fault, wedge and
 * unplug handling against a scripted fake probe written here from the
 * reference (not from our simulator), and finally against the in-process
 * simulated ST-Link + STM32F405. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stlink.h"
#include "bench/f4_model.h"
#include "bench/stlink_sim.h"

static void no_sleep(void *ctx, unsigned ms)
{
	unsigned *total = ctx;
	if (total)
		*total += ms;
}

#define ASSERT_CMD(cmd, ...)                                                       \
	do {                                                                       \
		const uint8_t want_[STLINK_CMD_SIZE] = {__VA_ARGS__};              \
		assert_memory_equal((cmd), want_, STLINK_CMD_SIZE);                \
	} while (0)

/* ---- encodings ------------------------------------------------------------ */
static void encodes_top_level_commands(void **state)
{
	(void)state;
	uint8_t c[STLINK_CMD_SIZE];
	assert_int_equal(stlink_enc_get_version(c), 6);
	ASSERT_CMD(c, 0xF1);
	assert_int_equal(stlink_enc_get_version_v3(c), 12);
	ASSERT_CMD(c, 0xFB);
	assert_int_equal(stlink_enc_get_mode(c), 2);
	ASSERT_CMD(c, 0xF5);
	assert_int_equal(stlink_enc_dfu_exit(c), 0);
	ASSERT_CMD(c, 0xF3, 0x07);
	assert_int_equal(stlink_enc_swim_exit(c), 0);
	ASSERT_CMD(c, 0xF4, 0x01);
	assert_int_equal(stlink_enc_voltage(c), 8);
	ASSERT_CMD(c, 0xF7);
}

static void encodes_debug_commands(void **state)
{
	(void)state;
	uint8_t c[STLINK_CMD_SIZE];
	assert_int_equal(stlink_enc_enter_swd(c), 2);
	ASSERT_CMD(c, 0xF2, 0x30, 0xA3);
	assert_int_equal(stlink_enc_debug_exit(c), 0);
	ASSERT_CMD(c, 0xF2, 0x21);
	assert_int_equal(stlink_enc_read_idcodes(c), 12);
	ASSERT_CMD(c, 0xF2, 0x31);
	assert_int_equal(stlink_enc_drive_nrst(c, 0), 2);
	ASSERT_CMD(c, 0xF2, 0x3C, 0x00);
	stlink_enc_drive_nrst(c, 1);
	ASSERT_CMD(c, 0xF2, 0x3C, 0x01);
	assert_int_equal(stlink_enc_resetsys(c), 2);
	ASSERT_CMD(c, 0xF2, 0x32);
	assert_int_equal(stlink_enc_swd_set_freq(c, 798), 2);
	ASSERT_CMD(c, 0xF2, 0x43, 0x1E, 0x03);
	assert_int_equal(stlink_enc_get_com_freq(c), 52);
	ASSERT_CMD(c, 0xF2, 0x62, 0x00);
	assert_int_equal(stlink_enc_set_com_freq(c, 24000), 8);
	ASSERT_CMD(c, 0xF2, 0x61, 0x00, 0x00, 0xC0, 0x5D, 0x00, 0x00);
}

static void encodes_memory_commands(void **state)
{
	(void)state;
	uint8_t c[STLINK_CMD_SIZE];
	assert_int_equal(stlink_enc_read_mem(c, 4, 0x08000000, 6144), 6144);
	ASSERT_CMD(c, 0xF2, 0x07, 0x00, 0x00, 0x00, 0x08, 0x00, 0x18);
	assert_int_equal(stlink_enc_write_mem(c, 4, 0x20001234, 0x400), 0);
	ASSERT_CMD(c, 0xF2, 0x08, 0x34, 0x12, 0x00, 0x20, 0x00, 0x04);
	assert_int_equal(stlink_enc_read_mem(c, 1, 0x20000001, 3), 3);
	ASSERT_CMD(c, 0xF2, 0x0C, 0x01, 0x00, 0x00, 0x20, 0x03, 0x00);
	/* a one-byte 8-bit read answers with two bytes */
	assert_int_equal(stlink_enc_read_mem(c, 1, 0x20000003, 1), 2);
	assert_int_equal(stlink_enc_write_mem(c, 1, 0x20000005, 2), 0);
	ASSERT_CMD(c, 0xF2, 0x0D, 0x05, 0x00, 0x00, 0x20, 0x02, 0x00);
	assert_int_equal(stlink_enc_rw_status(c, true), 12);
	ASSERT_CMD(c, 0xF2, 0x3E);
	assert_int_equal(stlink_enc_rw_status(c, false), 2);
	ASSERT_CMD(c, 0xF2, 0x3B);
	assert_int_equal(stlink_enc_read_debug_reg(c, 0xE000EDF0), 8);
	ASSERT_CMD(c, 0xF2, 0x36, 0xF0, 0xED, 0x00, 0xE0);
	assert_int_equal(stlink_enc_write_debug_reg(c, 0xE000EDF0, 0xA05F0003), 2);
	ASSERT_CMD(c, 0xF2, 0x35, 0xF0, 0xED, 0x00, 0xE0, 0x03, 0x00, 0x5F, 0xA0);
	assert_int_equal(stlink_enc_read_reg(c, 15), 8);
	ASSERT_CMD(c, 0xF2, 0x33, 0x0F);
	assert_int_equal(stlink_enc_write_reg(c, 13, 0x20020000), 2);
	ASSERT_CMD(c, 0xF2, 0x34, 0x0D, 0x00, 0x00, 0x02, 0x20);
	assert_int_equal(stlink_enc_write_dap_reg(c, 0xFFFF, 0, 0x1E), 2);
	ASSERT_CMD(c, 0xF2, 0x46, 0xFF, 0xFF, 0x00, 0x00, 0x1E, 0x00, 0x00, 0x00);
}

static void splits_transfers(void **state)
{
	(void)state;
	assert_int_equal(stlink_chunk_len(0x20000000, 65536, 6144, 1024), 1024);
	assert_int_equal(stlink_chunk_len(0x200003F0, 100, 6144, 1024), 16);
	assert_int_equal(stlink_chunk_len(0x20000000, 65536, 6144, 0), 6144);
	assert_int_equal(stlink_chunk_len(0x20000000, 65536, 6144, 8192), 6144);
	assert_int_equal(stlink_chunk_len(0x20001000, 8, 6144, 1024), 8);
	assert_int_equal(stlink_chunk_len(0x20000010, 100, 64, 1024), 64);
}

/* ---- versions, voltage, clocks, statuses ----------------------------------- */
static void decodes_v2_version(void **state)
{
	(void)state;
	/* 2<<12 | 37<<6 | 7 = 0x2947, VID 0483, PID 3748, both LE */
	const uint8_t reply[6] = {0x29, 0x47, 0x83, 0x04, 0x48, 0x37};
	struct stlink_version v;
	char s[32];
	stlink_decode_version(reply, 0x3748, &v);
	assert_int_equal(v.hw, 2);
	assert_int_equal(v.jtag, 37);
	assert_int_equal(v.swim, 7);
	assert_int_equal(v.vid, 0x0483);
	assert_int_equal(v.pid, 0x3748);
	assert_int_equal(v.api, STLINK_API_V2);
	assert_false(stlink_version_needs_v3(&v));
	stlink_version_string(&v, s, sizeof s);
	assert_string_equal(s, "V2J37S7");
	assert_true(v.features & STLINK_F_RWSTATUS2);
	assert_true(v.features & STLINK_F_SWD_SET_FREQ);
	assert_true(v.features & STLINK_F_DAP_REG);
	assert_true(v.features & STLINK_F_AP_INIT);
	assert_false(v.features & STLINK_F_RW8_512);
}

static void decodes_v2_1_version(void **state)
{
	(void)state;
	/* 2<<12 | 40<<6 | 27 = 0x2A1B on a Nucleo (374B): J40 M27 */
	const uint8_t reply[6] = {0x2A, 0x1B, 0x83, 0x04, 0x4B, 0x37};
	struct stlink_version v;
	char s[32];
	stlink_decode_version(reply, 0x374B, &v);
	assert_int_equal(v.jtag, 40);
	assert_int_equal(v.msd, 27);
	assert_false(v.stm8_only);
	stlink_version_string(&v, s, sizeof s);
	assert_string_equal(s, "V2J40M27");
	/* M25 S7 on a V2-1 is STM8 firmware (OpenOCD's rule): no SWD */
	const uint8_t stm8[6] = {0x26, 0x47, 0x83, 0x04, 0x4B, 0x37};
	stlink_decode_version(stm8, 0x374B, &v);
	assert_true(v.stm8_only);
	assert_int_equal(v.jtag, 0);
}

static void decodes_v3_version(void **state)
{
	(void)state;
	const uint8_t first[6] = {0x30, 0x00, 0x83, 0x04, 0x4E, 0x37};
	const uint8_t ext[12] = {3, 1, 7, 3, 5, 0, 0, 0, 0x83, 0x04, 0x4E, 0x37};
	struct stlink_version v;
	char s[32];
	stlink_decode_version(first, 0x374E, &v);
	assert_true(stlink_version_needs_v3(&v));
	stlink_decode_version_v3(ext, &v);
	assert_int_equal(v.hw, 3);
	assert_int_equal(v.jtag, 7);
	assert_int_equal(v.api, STLINK_API_V3);
	assert_true(v.features & STLINK_F_RW8_512);
	assert_true(v.features & STLINK_F_V3_FREQ);
	assert_false(v.features & STLINK_F_SWD_SET_FREQ);
	stlink_version_string(&v, s, sizeof s);
	assert_string_equal(s, "V3J7M3B5S1");
}

static void old_v2_firmware_lacks_features(void **state)
{
	(void)state;
	/* V2J14S0: voltage yes, GETLASTRWSTATUS2 no, clock no */
	const uint8_t reply[6] = {0x23, 0x80, 0x83, 0x04, 0x48, 0x37};
	struct stlink_version v;
	stlink_decode_version(reply, 0x3748, &v);
	assert_int_equal(v.jtag, 14);
	assert_true(v.features & STLINK_F_VOLTAGE);
	assert_false(v.features & STLINK_F_RWSTATUS2);
	assert_false(v.features & STLINK_F_SWD_SET_FREQ);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void computes_voltage(void **state)
{
	(void)state;
	uint8_t r[8];
	double v = -1;
	put32(r, 1000);
	put32(r + 4, 1375);
	assert_true(stlink_voltage_from_reply(r, &v));
	assert_true(v > 3.299 && v < 3.301);
	put32(r + 4, 0);
	assert_true(stlink_voltage_from_reply(r, &v));
	assert_true(v == 0.0);
	/* all-zero reply (broken ADC, stlink PR #1343): unknown, no division */
	memset(r, 0, sizeof r);
	v = -1;
	assert_false(stlink_voltage_from_reply(r, &v));
	assert_true(v == -1);
	put32(r + 4, 77);
	assert_false(stlink_voltage_from_reply(r, &v));
}

static void picks_clocks(void **state)
{
	(void)state;
	unsigned got;
	assert_int_equal(stlink_v2_swd_divisor(4000, &got), 0);
	assert_int_equal(got, 4000);
	assert_int_equal(stlink_v2_swd_divisor(8000, &got), 0);
	assert_int_equal(got, 4000);
	assert_int_equal(stlink_v2_swd_divisor(2000, &got), 1);
	assert_int_equal(got, 1800);
	assert_int_equal(stlink_v2_swd_divisor(1000, &got), 3);
	assert_int_equal(got, 950);
	assert_int_equal(stlink_v2_swd_divisor(480, &got), 7);
	assert_int_equal(stlink_v2_swd_divisor(100, &got), 40);
	assert_int_equal(stlink_v2_swd_divisor(24, &got), 265);
	assert_int_equal(got, 15);
	assert_int_equal(stlink_v2_swd_divisor(1, &got), 798);
	assert_int_equal(got, 5);
	const uint32_t v3[] = {24000, 8000, 3300, 1000, 200, 50, 5};
	assert_int_equal(stlink_v3_pick_khz(v3, 7, 4000), 3300);
	assert_int_equal(stlink_v3_pick_khz(v3, 7, 100000), 24000);
	assert_int_equal(stlink_v3_pick_khz(v3, 7, 1000), 1000);
	assert_int_equal(stlink_v3_pick_khz(v3, 7, 1), 5);
	assert_int_equal(stlink_v3_pick_khz(v3, 0, 1000), 0);
}

static void classifies_statuses(void **state)
{
	(void)state;
	assert_int_equal(stlink_status_class(0x80), STLINK_CLASS_OK);
	assert_int_equal(stlink_status_class(0x10), STLINK_CLASS_WAIT);
	assert_int_equal(stlink_status_class(0x14), STLINK_CLASS_WAIT);
	assert_int_equal(stlink_status_class(0x11), STLINK_CLASS_FAULT);
	assert_int_equal(stlink_status_class(0x15), STLINK_CLASS_FAULT);
	assert_int_equal(stlink_status_class(0x12), STLINK_CLASS_FAULT);
	assert_int_equal(stlink_status_class(0x19), STLINK_CLASS_FAULT);
	assert_int_equal(stlink_status_class(0x09), STLINK_CLASS_ERROR);
	assert_int_equal(stlink_status_class(0x42), STLINK_CLASS_ERROR);
	assert_int_equal(stlink_status_class(0x00), STLINK_CLASS_ERROR);
	assert_string_equal(stlink_status_name(0x14), "SWD_DP_WAIT");
	assert_string_equal(stlink_status_name(0xEE), "unknown status");
}

/* ---- a scripted fake probe ------------------------------------------------------ */
#define FAKE_RAM 0x20000000u
#define FAKE_RAM_SIZE 0x20000u
#define FAKE_MAX_LOG 4096

struct fake {
	uint8_t hw;
	unsigned jtag;
	uint16_t pid;
	uint8_t mode;
	uint32_t vref, vsense;
	uint8_t ram[FAKE_RAM_SIZE];
	/* pending IN reply */
	uint8_t reply[8192];
	size_t reply_len, reply_pos;
	/* expected OUT data phase */
	size_t data_left;
	uint32_t data_addr;
	/* last R/W */
	uint8_t rw_status;
	uint32_t rw_fault;
	/* script */
	unsigned waits_left;       /* R/W statuses answered WAIT */
	bool flash_faults;         /* reads of 0x08xxxxxx fault like RDP1 */
	uint32_t fault_offset;     /* ... at this offset into the block */
	long timeout_at, gone_at;  /* transfer numbers, -1 never */
	bool stale;                /* a timed-out IN leaves its reply queued */
	/* record */
	unsigned long transfers;
	unsigned resets, closes;
	uint8_t log[FAKE_MAX_LOG][2];
	unsigned n_log;
};

static void fake_init(struct fake *f, uint8_t hw, unsigned jtag, uint16_t pid)
{
	memset(f, 0, sizeof *f);
	f->hw = hw;
	f->jtag = jtag;
	f->pid = pid;
	f->mode = 1;
	f->vref = 1000;
	f->vsense = 1375;
	f->rw_status = 0x80;
	f->timeout_at = f->gone_at = -1;
}

static unsigned fake_count(const struct fake *f, uint8_t op0, uint8_t op1)
{
	unsigned n = 0;
	for (unsigned i = 0; i < f->n_log; i++)
		if (f->log[i][0] == op0 && (op0 != 0xF2 || f->log[i][1] == op1))
			n++;
	return n;
}

static void reply_bytes(struct fake *f, const void *p, size_t n)
{
	memcpy(f->reply, p, n);
	f->reply_len = n;
	f->reply_pos = 0;
}

static void reply_status(struct fake *f, uint8_t st, uint32_t value, size_t n)
{
	uint8_t r[12] = {st};
	put32(r + 4, value);
	reply_bytes(f, r, n);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static bool in_ram(uint32_t addr, size_t len)
{
	return addr >= FAKE_RAM && len <= FAKE_RAM_SIZE && addr - FAKE_RAM <= FAKE_RAM_SIZE - len;
}

static void fake_readmem(struct fake *f, uint32_t addr, uint16_t len, bool byte_wide)
{
	size_t n = (byte_wide && len == 1) ? 2 : len;
	memset(f->reply, 0xEE, n); /* stale-looking junk unless the read works */
	f->reply_len = n;
	f->reply_pos = 0;
	if (f->waits_left) {
		f->waits_left--;
		f->rw_status = 0x14;
	} else if (f->flash_faults && (addr >> 24) == 0x08) {
		/* GETLASTRWSTATUS2 names the word that faulted inside the block */
		f->rw_status = 0x11;
		f->rw_fault = addr + f->fault_offset;
	} else if (in_ram(addr, len)) {
		memcpy(f->reply, f->ram + (addr - FAKE_RAM), len);
		f->rw_status = 0x80;
	} else {
		f->rw_status = 0x11;
		f->rw_fault = addr;
	}
}

static void fake_debug(struct fake *f, const uint8_t *c)
{
	uint32_t a = le32(c + 2);
	switch (c[1]) {
	case 0x30: f->mode = 2; reply_status(f, 0x80, 0, 2); break;
	case 0x21: f->mode = 1; break;
	case 0x31: reply_status(f, 0x80, 0x2BA01477, 12); break;
	case 0x07: fake_readmem(f, a, (uint16_t)(c[6] | c[7] << 8), false); break;
	case 0x0C: fake_readmem(f, a, (uint16_t)(c[6] | c[7] << 8), true); break;
	case 0x08:
	case 0x0D:
		f->data_left = (size_t)(c[6] | c[7] << 8);
		f->data_addr = a;
		f->rw_status = 0x80;
		if (f->waits_left) {
			f->waits_left--;
			f->rw_status = 0x14;
		}
		break;
	case 0x3B: reply_status(f, f->rw_status, 0, 2); break;
	case 0x3E: reply_status(f, f->rw_status, f->rw_fault, 12); break;
	case 0x36:
		if (in_ram(a, 4))
			reply_status(f, 0x80, le32(f->ram + (a - FAKE_RAM)), 8);
		else
			reply_status(f, 0x11, 0, 8);
		break;
	case 0x35:
		if (in_ram(a, 4))
			memcpy(f->ram + (a - FAKE_RAM), c + 6, 4);
		reply_status(f, in_ram(a, 4) ? 0x80 : 0x11, 0, 2);
		break;
	case 0x33: reply_status(f, 0x80, 0x08000000u + c[2], 8); break;
	case 0x34: case 0x3C: case 0x32: case 0x43: case 0x46:
		reply_status(f, 0x80, 0, 2);
		break;
	default: reply_status(f, 0x42, 0, 2); break;
	}
}

static void fake_command(struct fake *f, const uint8_t *c)
{
	if (f->n_log < FAKE_MAX_LOG) {
		f->log[f->n_log][0] = c[0];
		f->log[f->n_log][1] = c[1];
		f->n_log++;
	}
	uint8_t r[12] = {0};
	switch (c[0]) {
	case 0xF1: {
		unsigned word = (unsigned)f->hw << 12 | (f->hw == 3 ? 0 : (f->jtag << 6 | 7));
		r[0] = (uint8_t)(word >> 8);
		r[1] = (uint8_t)word;
		r[2] = 0x83; r[3] = 0x04;
		r[4] = (uint8_t)f->pid; r[5] = (uint8_t)(f->pid >> 8);
		reply_bytes(f, r, 6);
		break;
	}
	case 0xFB:
		r[0] = 3; r[1] = 1; r[2] = (uint8_t)f->jtag; r[3] = 3; r[4] = 5;
		r[8] = 0x83; r[9] = 0x04; r[10] = (uint8_t)f->pid; r[11] = (uint8_t)(f->pid >> 8);
		reply_bytes(f, r, 12);
		break;
	case 0xF5: r[0] = f->mode; reply_bytes(f, r, 2); break;
	case 0xF3: if (c[1] == 0x07) f->mode = 1; break;
	case 0xF7: put32(r, f->vref); put32(r + 4, f->vsense); reply_bytes(f, r, 8); break;
	case 0xF2: fake_debug(f, c); break;
	default: break;
	}
}

static vr_err fake_fail(struct fake *f, struct vr_error *err)
{
	if (f->gone_at >= 0 && (long)f->transfers > f->gone_at)
		return vr_fail(err, VR_ERR_GONE, "fake: gone");
	if (f->timeout_at >= 0 && (long)f->transfers == f->timeout_at)
		return vr_fail(err, VR_ERR_TIMEOUT, "fake: timeout");
	return VR_OK;
}

static vr_err fake_out(void *ctx, const uint8_t *buf, size_t len, unsigned timeout_ms,
		       struct vr_error *err)
{
	struct fake *f = ctx;
	f->transfers++;
	vr_err rc = fake_fail(f, err);
	if (rc != VR_OK)
		return rc;
	if (f->data_left) {
		assert_true(len <= f->data_left);
		if (f->rw_status == 0x80 && in_ram(f->data_addr, len))
			memcpy(f->ram + (f->data_addr - FAKE_RAM), buf, len);
		else if (f->rw_status == 0x80) {
			f->rw_status = 0x11;
			f->rw_fault = f->data_addr;
		}
		f->data_addr += (uint32_t)len;
		f->data_left -= len;
		return VR_OK;
	}
	assert_int_equal(len, STLINK_CMD_SIZE);
	f->reply_len = f->reply_pos = 0;
	fake_command(f, buf);
	return VR_OK;
}

static vr_err fake_in(void *ctx, uint8_t *buf, size_t len, size_t *got, unsigned timeout_ms,
		      struct vr_error *err)
{
	struct fake *f = ctx;
	*got = 0;
	f->transfers++;
	vr_err rc = fake_fail(f, err);
	if (rc != VR_OK)
		return rc;
	size_t left = f->reply_len - f->reply_pos;
	if (!left)
		return vr_fail(err, VR_ERR_TIMEOUT, "fake: nothing to read");
	size_t n = left < len ? left : len;
	memcpy(buf, f->reply + f->reply_pos, n);
	f->reply_pos += n;
	*got = n;
	return VR_OK;
}

static vr_err fake_reset(void *ctx, struct vr_error *err)
{
	struct fake *f = ctx;
	f->resets++;
	f->reply_len = f->reply_pos = 0;
	f->data_left = 0;
	f->mode = 1;
	return fake_fail(f, err);
}

static void fake_close(void *ctx)
{
	struct fake *f = ctx;
	f->closes++;
}

static const struct usb_transport_ops fake_ops = {fake_out, fake_in, fake_reset, fake_close};

static void fake_transport(struct fake *f, struct usb_transport *t)
{
	memset(t, 0, sizeof *t);
	t->ops = &fake_ops;
	t->ctx = f;
	t->vid = 0x0483;
	t->pid = f->pid;
	snprintf(t->serial, sizeof t->serial, "066DFF485550755187101234");
	snprintf(t->where, sizeof t->where, "fake");
}

struct rig {
	struct fake f;
	struct swd_probe p;
	unsigned slept_ms;
};

static vr_err rig_open(struct rig *r, uint8_t hw, unsigned jtag, uint16_t pid, struct vr_error *err)
{
	struct usb_transport t;
	fake_init(&r->f, hw, jtag, pid);
	fake_transport(&r->f, &t);
	struct stlink_options o = {.sleep_ms = no_sleep, .sleep_ctx = &r->slept_ms};
	return stlink_open_with(&t, &o, &r->p, err);
}

static struct rig *rig_new(void)
{
	struct rig *r = calloc(1, sizeof *r);
	assert_non_null(r);
	struct vr_error err = {0};
	assert_int_equal(rig_open(r, 2, 37, 0x3748, &err), VR_OK);
	assert_int_equal(r->p.ops->enter_swd(r->p.ctx, &err), VR_OK);
	return r;
}

static void rig_free(struct rig *r)
{
	r->p.ops->close(r->p.ctx);
	assert_int_equal(r->f.closes, 1);
	free(r);
}

/* ---- driver against the fake ------------------------------------------------------ */
static void opens_v2_and_reports(void **state)
{
	(void)state;
	struct rig *r = calloc(1, sizeof *r);
	struct vr_error err = {0};
	assert_int_equal(rig_open(r, 2, 37, 0x3748, &err), VR_OK);
	assert_string_equal(r->p.info.name, "ST-LINK/V2");
	assert_string_equal(r->p.info.version, "V2J37S7");
	assert_string_equal(r->p.info.serial, "066DFF485550755187101234");
	assert_true(r->p.info.can_set_clock);
	assert_true(r->p.info.can_drive_nrst);
	assert_int_equal(r->p.info.max_block, STLINK_MAX_BLOCK);
	double v = 0;
	assert_int_equal(r->p.ops->target_voltage(r->p.ctx, &v, &err), VR_OK);
	assert_true(v > 3.29 && v < 3.31);
	r->f.vref = 0; /* broken ADC: unknown, an error, no crash */
	assert_int_not_equal(r->p.ops->target_voltage(r->p.ctx, &v, &err), VR_OK);
	unsigned khz = 0;
	assert_int_equal(r->p.ops->set_clock(r->p.ctx, 1000, &khz, &err), VR_OK);
	assert_int_equal(khz, 950);
	/* memory before ENTER SWD is a bug, not a USB exchange */
	uint32_t w;
	assert_int_equal(r->p.ops->read_word(r->p.ctx, FAKE_RAM, &w, &err), VR_ERR_INTERNAL);
	assert_int_equal(r->p.ops->enter_swd(r->p.ctx, &err), VR_OK);
	uint32_t dpidr = 0;
	assert_int_equal(r->p.ops->read_dpidr(r->p.ctx, &dpidr, &err), VR_OK);
	assert_int_equal(dpidr, 0x2BA01477);
	const struct stlink_stats *st = stlink_stats(&r->p);
	assert_non_null(st);
	assert_true(st->usb_transfers >= 2 * st->commands - 4);
	assert_null(stlink_stats(NULL));
	rig_free(r);
}

static void opens_v3_with_extended_version(void **state)
{
	(void)state;
	struct rig *r = calloc(1, sizeof *r);
	struct vr_error err = {0};
	assert_int_equal(rig_open(r, 3, 7, 0x374E, &err), VR_OK);
	assert_string_equal(r->p.info.name, "STLINK-V3");
	assert_string_equal(r->p.info.version, "V3J7M3B5S1");
	assert_int_equal(fake_count(&r->f, 0xFB, 0), 1);
	rig_free(r);
}

static void refuses_old_firmware(void **state)
{
	(void)state;
	struct rig *r = calloc(1, sizeof *r);
	struct vr_error err = {0};
	assert_int_equal(rig_open(r, 2, 12, 0x3748, &err), VR_ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "STSW-LINK007"));
	assert_non_null(strstr(err.msg, "V2J12"));
	assert_int_equal(r->f.closes, 1); /* the transport was ours: closed */
	free(r);
}

static void refuses_v1_and_stm8_firmware(void **state)
{
	(void)state;
	struct rig *r = calloc(1, sizeof *r);
	struct vr_error err = {0};
	assert_int_equal(rig_open(r, 1, 30, 0x3744, &err), VR_ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "ST-LINK/V1"));
	/* a V2-1 whose fields read M25 S7: STM8 firmware, no SWD */
	fake_init(&r->f, 2, 25, 0x374B);
	struct usb_transport t;
	fake_transport(&r->f, &t);
	struct stlink_options o = {.sleep_ms = no_sleep};
	assert_int_equal(stlink_open_with(&t, &o, &r->p, &err), VR_ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "STM8"));
	assert_int_equal(r->f.closes, 1);
	assert_null(r->p.ops);
	free(r);
}

static void leaves_dfu_mode(void **state)
{
	(void)state;
	struct rig *r = calloc(1, sizeof *r);
	struct vr_error err = {0};
	fake_init(&r->f, 2, 37, 0x3748);
	r->f.mode = 0;
	struct usb_transport t;
	fake_transport(&r->f, &t);
	struct stlink_options o = {.sleep_ms = no_sleep};
	assert_int_equal(stlink_open_with(&t, &o, &r->p, &err), VR_OK);
	assert_int_equal(fake_count(&r->f, 0xF3, 0), 1);
	assert_int_equal(r->f.mode, 1);
	rig_free(r);
}

static void old_firmware_cannot_set_clock(void **state)
{
	(void)state;
	struct rig *r = calloc(1, sizeof *r);
	struct vr_error err = {0};
	assert_int_equal(rig_open(r, 2, 17, 0x3748, &err), VR_OK);
	assert_false(r->p.info.can_set_clock);
	unsigned khz = 0;
	assert_int_equal(r->p.ops->set_clock(r->p.ctx, 100, &khz, &err), VR_ERR_UNSUPPORTED);
	assert_int_equal(khz, 1800);
	assert_non_null(strstr(err.msg, "V2J22"));
	rig_free(r);
}

static void every_read_checks_its_status(void **state)
{
	(void)state;
	struct rig *r = rig_new();
	struct vr_error err = {0};
	uint8_t buf[5000];
	assert_int_equal(r->p.ops->read_mem(r->p.ctx, FAKE_RAM, buf, sizeof buf, &err), VR_OK);
	unsigned reads = fake_count(&r->f, 0xF2, 0x07) + fake_count(&r->f, 0xF2, 0x0C);
	assert_int_equal(reads, 5); /* 1 KB boundaries */
	assert_int_equal(fake_count(&r->f, 0xF2, 0x3E), reads);
	rig_free(r);
}

static void old_firmware_uses_short_status(void **state)
{
	(void)state;
	struct rig *r = calloc(1, sizeof *r);
	struct vr_error err = {0};
	assert_int_equal(rig_open(r, 2, 14, 0x3748, &err), VR_OK);
	assert_int_equal(r->p.ops->enter_swd(r->p.ctx, &err), VR_OK);
	uint8_t buf[8];
	assert_int_equal(r->p.ops->read_mem(r->p.ctx, FAKE_RAM, buf, 8, &err), VR_OK);
	assert_int_equal(fake_count(&r->f, 0xF2, 0x3B), 1);
	assert_int_equal(fake_count(&r->f, 0xF2, 0x3E), 0);
	rig_free(r);
}

static void unaligned_round_trip(void **state)
{
	(void)state;
	struct rig *r = rig_new();
	struct vr_error err = {0};
	uint8_t out[1030], in[1030];
	for (size_t i = 0; i < sizeof out; i++)
		out[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(r->p.ops->write_mem(r->p.ctx, FAKE_RAM + 0x3FD, out, sizeof out, &err), VR_OK);
	assert_memory_equal(r->f.ram + 0x3FD, out, sizeof out);
	assert_int_equal(r->p.ops->read_mem(r->p.ctx, FAKE_RAM + 0x3FD, in, sizeof in, &err), VR_OK);
	assert_memory_equal(in, out, sizeof out);
	/* head 3 bytes and tail bytes went 8-bit, the middle 32-bit */
	assert_int_equal(fake_count(&r->f, 0xF2, 0x0D), 2);
	assert_true(fake_count(&r->f, 0xF2, 0x08) >= 1);
	/* a single byte (8-bit read replies with two bytes) */
	uint8_t one = 0;
	assert_int_equal(r->p.ops->read_mem(r->p.ctx, FAKE_RAM + 0x3FE, &one, 1, &err), VR_OK);
	assert_int_equal(one, out[1]);
	rig_free(r);
}

static void wait_then_ok_is_retried(void **state)
{
	(void)state;
	struct rig *r = rig_new();
	struct vr_error err = {0};
	for (int i = 0; i < 16; i++)
		r->f.ram[i] = (uint8_t)(0xA0 + i);
	r->f.waits_left = 3;
	uint8_t buf[16];
	assert_int_equal(r->p.ops->read_mem(r->p.ctx, FAKE_RAM, buf, 16, &err), VR_OK);
	assert_memory_equal(buf, r->f.ram, 16);
	assert_int_equal(stlink_stats(&r->p)->wait_retries, 3);
	assert_int_equal(r->slept_ms, 1 + 2 + 4);
	/* a WAIT that never ends gives up after 8 attempts */
	r->f.waits_left = 100;
	r->slept_ms = 0;
	unsigned before = fake_count(&r->f, 0xF2, 0x07);
	assert_int_equal(r->p.ops->read_mem(r->p.ctx, FAKE_RAM, buf, 16, &err), VR_ERR_TIMEOUT);
	assert_int_equal(fake_count(&r->f, 0xF2, 0x07) - before, STLINK_WAIT_ATTEMPTS);
	assert_int_equal(r->slept_ms, 127);
	assert_non_null(strstr(err.msg, "WAIT"));
	rig_free(r);
}

static void fault_reports_address_and_clears(void **state)
{
	(void)state;
	struct rig *r = rig_new();
	struct vr_error err = {0};
	r->f.flash_faults = true;
	r->f.fault_offset = 0x20;
	uint8_t buf[64];
	memset(buf, 0x5A, sizeof buf);
	assert_int_equal(r->p.ops->read_mem(r->p.ctx, 0x08000000, buf, 64, &err), VR_ERR_FAULT);
	assert_int_equal(err.code, VR_ERR_FAULT);
	assert_non_null(strstr(err.msg, "reading 0x08000020"));
	assert_non_null(strstr(err.msg, "RDP level 1"));
	/* sticky errors cleared with WRITE_DAP_REG to ABORT */
	assert_int_equal(fake_count(&r->f, 0xF2, 0x46), 1);
	/* a later read in RAM works */
	r->f.flash_faults = false;
	assert_int_equal(r->p.ops->read_mem(r->p.ctx, FAKE_RAM, buf, 64, &err), VR_OK);
	/* single-word fault names the address too */
	uint32_t w;
	assert_int_equal(r->p.ops->read_word(r->p.ctx, 0x40000000, &w, &err), VR_ERR_FAULT);
	assert_non_null(strstr(err.msg, "0x40000000"));
	rig_free(r);
}

static void timeout_resets_and_reopens_once(void **state)
{
	(void)state;
	struct rig *r = rig_new();
	struct vr_error err = {0};
	for (int i = 0; i < 32; i++)
		r->f.ram[i] = (uint8_t)i;
	/* the next IN (the READMEM data) times out */
	r->f.timeout_at = (long)r->f.transfers + 2;
	uint8_t buf[32];
	assert_int_equal(r->p.ops->read_mem(r->p.ctx, FAKE_RAM, buf, 32, &err), VR_OK);
	assert_memory_equal(buf, r->f.ram, 32);
	assert_int_equal(r->f.resets, 1);
	assert_int_equal(stlink_stats(&r->p)->recoveries, 1);
	/* back in SWD mode after the reset */
	assert_int_equal(r->f.mode, 2);
	/* a second wedge: no second reset, the person is told to replug */
	r->f.timeout_at = (long)r->f.transfers + 1;
	assert_int_equal(r->p.ops->read_mem(r->p.ctx, FAKE_RAM, buf, 32, &err), VR_ERR_TIMEOUT);
	assert_int_equal(r->f.resets, 1);
	assert_non_null(strstr(err.msg, "unplug"));
	rig_free(r);
}

static void gone_mid_transfer(void **state)
{
	(void)state;
	struct rig *r = rig_new();
	struct vr_error err = {0};
	uint8_t buf[4096];
	r->f.gone_at = (long)r->f.transfers + 3;
	assert_int_equal(r->p.ops->write_mem(r->p.ctx, FAKE_RAM, buf, sizeof buf, &err), VR_ERR_GONE);
	assert_int_equal(r->f.resets, 0);
	assert_non_null(strstr(err.msg, "plug it back in"));
	uint32_t w;
	assert_int_equal(r->p.ops->read_word(r->p.ctx, FAKE_RAM, &w, &err), VR_ERR_GONE);
	rig_free(r);
}

static void word_and_register_access(void **state)
{
	(void)state;
	struct rig *r = rig_new();
	struct vr_error err = {0};
	uint32_t w = 0;
	assert_int_equal(r->p.ops->write_word(r->p.ctx, FAKE_RAM + 8, 0xDEADBEEF, &err), VR_OK);
	assert_int_equal(r->p.ops->read_word(r->p.ctx, FAKE_RAM + 8, &w, &err), VR_OK);
	assert_int_equal(w, 0xDEADBEEF);
	assert_int_equal(r->p.ops->read_word(r->p.ctx, FAKE_RAM + 2, &w, &err), VR_ERR_INTERNAL);
	assert_int_equal(r->p.ops->read_core_reg(r->p.ctx, SWD_REG_PC, &w, &err), VR_OK);
	assert_int_equal(w, 0x0800000F);
	assert_int_equal(r->p.ops->write_core_reg(r->p.ctx, SWD_REG_SP, 1, &err), VR_OK);
	assert_int_equal(r->p.ops->read_core_reg(r->p.ctx, 99, &w, &err), VR_ERR_INTERNAL);
	assert_int_equal(r->p.ops->drive_nrst(r->p.ctx, true, &err), VR_OK);
	assert_int_equal(r->p.ops->system_reset(r->p.ctx, &err), VR_OK);
	assert_int_equal(fake_count(&r->f, 0xF2, 0x3C), 1);
	assert_int_equal(fake_count(&r->f, 0xF2, 0x32), 1);
	rig_free(r);
}

static void block_size_is_configurable(void **state)
{
	(void)state;
	struct rig *r = rig_new();
	struct vr_error err = {0};
	uint8_t buf[4096];
	assert_true(stlink_set_transfer_limits(&r->p, 512, 0));
	assert_int_equal(r->p.info.max_block, 512);
	assert_int_equal(r->p.ops->read_mem(r->p.ctx, FAKE_RAM, buf, sizeof buf, &err), VR_OK);
	assert_int_equal(fake_count(&r->f, 0xF2, 0x07), 8);
	assert_true(stlink_set_transfer_limits(&r->p, 6144, 8192));
	assert_int_equal(r->p.ops->read_mem(r->p.ctx, FAKE_RAM, buf, sizeof buf, &err), VR_OK);
	assert_int_equal(fake_count(&r->f, 0xF2, 0x07), 9);
	assert_false(stlink_set_transfer_limits(NULL, 4, 0));
	rig_free(r);
}

/* ---- against the simulated ST-Link + STM32F405 -------------------------------------- */
struct sim_rig {
	struct bench_clock clock;
	struct bench_timing timing;
	struct f4_model *model;
	struct stlink_sim *sim;
	struct swd_probe p;
};

struct sim_params {
	uint32_t optcr;       /* 0: factory */
	long gone_at, timeout_at;
	bool start_in_dfu;
};

static struct sim_rig *sim_rig_with(uint16_t pid, const struct sim_params *sp)
{
	struct sim_rig *r = calloc(1, sizeof *r);
	struct vr_error err = {0};
	assert_non_null(r);
	bench_timing_defaults(&r->timing);
	r->timing.time_scale = 0;
	struct f4_model_config mc;
	f4_model_config_defaults(&mc);
	mc.clock = &r->clock;
	mc.timing = r->timing;
	if (sp->optcr)
		mc.optcr = sp->optcr;
	r->model = f4_model_new(&mc, &err);
	assert_non_null(r->model);
	struct stlink_sim_config sc;
	stlink_sim_config_defaults(&sc, pid);
	sc.gone_at = sp->gone_at;
	sc.timeout_at = sp->timeout_at;
	sc.start_in_dfu = sp->start_in_dfu;
	r->sim = stlink_sim_new(&sc, r->model, &r->clock, &r->timing, &err);
	assert_non_null(r->sim);
	struct usb_transport t;
	stlink_sim_transport(r->sim, &t);
	struct stlink_options o = {.sleep_ms = no_sleep};
	assert_int_equal(stlink_open_with(&t, &o, &r->p, &err), VR_OK);
	return r;
}

static struct sim_rig *sim_rig_new(uint16_t pid, uint32_t optcr, long gone_at)
{
	const struct sim_params sp = {.optcr = optcr, .gone_at = gone_at, .timeout_at = -1};
	return sim_rig_with(pid, &sp);
}

static void sim_rig_free(struct sim_rig *r)
{
	r->p.ops->close(r->p.ctx);
	stlink_sim_free(r->sim);
	f4_model_free(r->model);
	free(r);
}

static void sim_identifies_target(void **state)
{
	(void)state;
	const uint16_t pids[] = {STLINK_SIM_PID_V2, STLINK_SIM_PID_V2_1, STLINK_SIM_PID_V3};
	for (size_t i = 0; i < 3; i++) {
		struct sim_rig *r = sim_rig_new(pids[i], 0, -1);
		struct vr_error err = {0};
		double v = 0;
		assert_true(r->p.info.version[0] == 'V');
		assert_int_equal(r->p.ops->target_voltage(r->p.ctx, &v, &err), VR_OK);
		assert_true(v > 3.0 && v < 3.6);
		unsigned khz = 0;
		assert_int_equal(r->p.ops->set_clock(r->p.ctx, 4000, &khz, &err), VR_OK);
		assert_true(khz > 0 && khz <= 4000);
		assert_int_equal(r->p.ops->enter_swd(r->p.ctx, &err), VR_OK);
		uint32_t dpidr = 0, cpuid = 0, idcode = 0;
		assert_int_equal(r->p.ops->read_dpidr(r->p.ctx, &dpidr, &err), VR_OK);
		assert_int_equal(dpidr, 0x2BA01477);
		assert_int_equal(r->p.ops->read_word(r->p.ctx, 0xE000ED00, &cpuid, &err), VR_OK);
		assert_int_equal(cpuid >> 24, 0x41);
		assert_int_equal((cpuid >> 4) & 0xFFF, 0xC24);
		assert_int_equal(r->p.ops->read_word(r->p.ctx, 0xE0042000, &idcode, &err), VR_OK);
		assert_int_equal(idcode & 0xFFF, 0x413);
		sim_rig_free(r);
	}
}

static void sim_sram_round_trip(void **state)
{
	(void)state;
	struct sim_rig *r = sim_rig_new(STLINK_SIM_PID_V2, 0, -1);
	struct vr_error err = {0};
	const size_t len = 64 * 1024 + 3;
	uint8_t *out = malloc(len), *in = malloc(len);
	assert_non_null(out);
	assert_non_null(in);
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)((i * 2654435761u) >> 13);
	assert_int_equal(r->p.ops->enter_swd(r->p.ctx, &err), VR_OK);
	assert_int_equal(r->p.ops->write_mem(r->p.ctx, 0x20000001, out, len, &err), VR_OK);
	memset(in, 0, len);
	assert_int_equal(r->p.ops->read_mem(r->p.ctx, 0x20000001, in, len, &err), VR_OK);
	assert_memory_equal(in, out, len);
	const struct stlink_stats *st = stlink_stats(&r->p);
	assert_int_equal(st->recoveries, 0);
	assert_true(st->commands > 2 * 64);
	free(out);
	free(in);
	sim_rig_free(r);
}

static void sim_rdp1_flash_read_faults(void **state)
{
	(void)state;
	struct sim_rig *r = sim_rig_new(STLINK_SIM_PID_V2, 0x0FFF55EDu, -1);
	struct vr_error err = {0};
	uint8_t buf[256];
	assert_int_equal(r->p.ops->enter_swd(r->p.ctx, &err), VR_OK);
	vr_err rc = r->p.ops->read_mem(r->p.ctx, 0x08000000, buf, sizeof buf, &err);
	assert_int_equal(rc, VR_ERR_FAULT);
	assert_non_null(strstr(err.msg, "0x08000000"));
	assert_non_null(strstr(err.msg, "RDP level 1"));
	/* the link still works after the fault */
	uint32_t idcode = 0;
	assert_int_equal(r->p.ops->read_word(r->p.ctx, 0xE0042000, &idcode, &err), VR_OK);
	assert_int_equal(idcode & 0xFFF, 0x413);
	sim_rig_free(r);
}

static void sim_usb_gone(void **state)
{
	(void)state;
	for (long at = 20; at < 60; at += 7) {
		struct sim_rig *r = sim_rig_new(STLINK_SIM_PID_V2, 0, at);
		struct vr_error err = {0};
		uint8_t buf[8192];
		vr_err rc = r->p.ops->enter_swd(r->p.ctx, &err);
		for (int i = 0; rc == VR_OK && i < 20; i++)
			rc = r->p.ops->read_mem(r->p.ctx, 0x20000000, buf, sizeof buf, &err);
		assert_int_equal(rc, VR_ERR_GONE);
		assert_true(strlen(err.msg) > 10);
		sim_rig_free(r);
	}
}

static void sim_timeout_recovers(void **state)
{
	(void)state;
	uint8_t out[4096], in[4096];
	for (size_t i = 0; i < sizeof out; i++)
		out[i] = (uint8_t)(i ^ 0x5A);
	/* every transfer number across open, enter, a write and a read */
	for (long at = 1; at < 40; at++) {
		const struct sim_params sp = {.gone_at = -1, .timeout_at = at};
		/* open itself may be where the transfer times out */
		struct sim_rig *r = sim_rig_with(STLINK_SIM_PID_V2, &sp);
		struct vr_error err = {0};
		assert_int_equal(r->p.ops->enter_swd(r->p.ctx, &err), VR_OK);
		assert_int_equal(r->p.ops->write_mem(r->p.ctx, 0x20001000, out, sizeof out, &err), VR_OK);
		assert_int_equal(r->p.ops->read_mem(r->p.ctx, 0x20001000, in, sizeof in, &err), VR_OK);
		assert_memory_equal(in, out, sizeof out);
		uint32_t dpidr = 0;
		assert_int_equal(r->p.ops->read_dpidr(r->p.ctx, &dpidr, &err), VR_OK);
		assert_int_equal(dpidr, 0x2BA01477);
		assert_int_equal(stlink_stats(&r->p)->recoveries, 1);
		sim_rig_free(r);
	}
}

static void sim_probe_in_dfu(void **state)
{
	(void)state;
	const struct sim_params sp = {.gone_at = -1, .timeout_at = -1, .start_in_dfu = true};
	struct sim_rig *r = sim_rig_with(STLINK_SIM_PID_V2, &sp);
	struct vr_error err = {0};
	assert_int_equal(r->p.ops->enter_swd(r->p.ctx, &err), VR_OK);
	uint32_t dpidr = 0;
	assert_int_equal(r->p.ops->read_dpidr(r->p.ctx, &dpidr, &err), VR_OK);
	assert_int_equal(dpidr, 0x2BA01477);
	sim_rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encodes_top_level_commands),
		cmocka_unit_test(encodes_debug_commands),
		cmocka_unit_test(encodes_memory_commands),
		cmocka_unit_test(splits_transfers),
		cmocka_unit_test(decodes_v2_version),
		cmocka_unit_test(decodes_v2_1_version),
		cmocka_unit_test(decodes_v3_version),
		cmocka_unit_test(old_v2_firmware_lacks_features),
		cmocka_unit_test(computes_voltage),
		cmocka_unit_test(picks_clocks),
		cmocka_unit_test(classifies_statuses),
		cmocka_unit_test(opens_v2_and_reports),
		cmocka_unit_test(opens_v3_with_extended_version),
		cmocka_unit_test(refuses_old_firmware),
		cmocka_unit_test(refuses_v1_and_stm8_firmware),
		cmocka_unit_test(leaves_dfu_mode),
		cmocka_unit_test(old_firmware_cannot_set_clock),
		cmocka_unit_test(every_read_checks_its_status),
		cmocka_unit_test(old_firmware_uses_short_status),
		cmocka_unit_test(unaligned_round_trip),
		cmocka_unit_test(wait_then_ok_is_retried),
		cmocka_unit_test(fault_reports_address_and_clears),
		cmocka_unit_test(timeout_resets_and_reopens_once),
		cmocka_unit_test(gone_mid_transfer),
		cmocka_unit_test(word_and_register_access),
		cmocka_unit_test(block_size_is_configurable),
		cmocka_unit_test(sim_identifies_target),
		cmocka_unit_test(sim_sram_round_trip),
		cmocka_unit_test(sim_rdp1_flash_read_faults),
		cmocka_unit_test(sim_usb_gone),
		cmocka_unit_test(sim_timeout_recovers),
		cmocka_unit_test(sim_probe_in_dfu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
