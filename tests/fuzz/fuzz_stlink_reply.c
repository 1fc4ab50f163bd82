/* libFuzzer target: arbitrary reply bytes from a "probe" into the ST-Link
 * driver (version decoding, mode handling, status handling, the read and
 * write paths, recovery) and into the pure decoders. It must never crash,
 * hang or read out of bounds, whatever the probe sends.
 *
 * Input: byte 0 chooses the USB PID and how the replies are cut into bulk
 * transfers; the rest is the stream of IN bytes. Commands are accepted and
 * ignored; when the stream ends every IN times out. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stlink.h"
#include "usb_libusb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_link {
	const uint8_t *data;
	size_t size, pos;
	unsigned cut;        /* 0: as much as asked; else bytes per IN */
	unsigned resets;
};

static vr_err fz_out(void *ctx, const uint8_t *buf, size_t len, unsigned timeout_ms,
		     struct vr_error *err)
{
	(void)ctx;
	(void)buf;
	(void)len;
	(void)timeout_ms;
	(void)err;
	return VR_OK;
}

static vr_err fz_in(void *ctx, uint8_t *buf, size_t len, size_t *got, unsigned timeout_ms,
		    struct vr_error *err)
{
	struct fuzz_link *l = ctx;
	(void)timeout_ms;
	*got = 0;
	size_t left = l->size - l->pos;
	if (!left)
		return vr_fail(err, VR_ERR_TIMEOUT, "fuzz: no more bytes");
	size_t n = len < left ? len : left;
	if (l->cut && n > l->cut)
		n = l->cut;
	memcpy(buf, l->data + l->pos, n);
	l->pos += n;
	*got = n;
	return VR_OK;
}

static vr_err fz_reset(void *ctx, struct vr_error *err)
{
	struct fuzz_link *l = ctx;
	(void)err;
	l->resets++;
	return VR_OK;
}

static void fz_close(void *ctx)
{
	(void)ctx;
}

static const struct usb_transport_ops fz_ops = {fz_out, fz_in, fz_reset, fz_close};

static void fz_sleep(void *ctx, unsigned ms)
{
	(void)ctx;
	(void)ms;
}

static void exercise_decoders(const uint8_t *data, size_t size)
{
	uint8_t buf[64] = {0};
	memcpy(buf, data, size < sizeof buf ? size : sizeof buf);
	struct stlink_version v;
	char s[64];
	double volts;
	stlink_decode_version(buf, (uint16_t)(buf[6] | buf[7] << 8), &v);
	stlink_version_string(&v, s, sizeof s);
	stlink_decode_version_v3(buf, &v);
	stlink_version_string(&v, s, sizeof s);
	stlink_version_string(&v, s, 3);
	(void)stlink_voltage_from_reply(buf, &volts);
	(void)stlink_status_name(buf[0]);
	stlink_serial_from_descriptor(data, size, s, sizeof s);
}

static void exercise_probe(struct swd_probe *p)
{
	struct vr_error err;
	double volts;
	unsigned khz;
	uint32_t word;
	uint8_t mem[3000];
	memset(mem, 0xA5, sizeof mem);
	p->ops->target_voltage(p->ctx, &volts, &err);
	p->ops->set_clock(p->ctx, 1000, &khz, &err);
	p->ops->drive_nrst(p->ctx, true, &err);
	p->ops->enter_swd(p->ctx, &err);
	p->ops->read_dpidr(p->ctx, &word, &err);
	p->ops->read_word(p->ctx, 0xE000ED00, &word, &err);
	p->ops->read_mem(p->ctx, 0x20000001, mem, 2051, &err);
	p->ops->write_mem(p->ctx, 0x200003FE, mem, 1030, &err);
	p->ops->read_core_reg(p->ctx, SWD_REG_PC, &word, &err);
	p->ops->write_word(p->ctx, 0xE000EDF0, 0xA05F0003, &err);
	p->ops->system_reset(p->ctx, &err);
	p->ops->leave_swd(p->ctx, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t pids[] = {0x3748, 0x374B, 0x374E, 0x3757, 0x3752, 0x1234};
	exercise_decoders(data, size);
	if (size < 1)
		return 0;
	struct fuzz_link link = {.data = data + 1, .size = size - 1};
	link.cut = (data[0] >> 4) & 0x7;
	struct usb_transport t = {.ops = &fz_ops, .ctx = &link, .vid = 0x0483};
	t.pid = pids[(data[0] & 0x0F) % (sizeof pids / sizeof pids[0])];
	struct stlink_options o = {.sleep_ms = fz_sleep, .max_block = (data[0] & 0x80) ? 64 : 0};
	struct swd_probe p;
	struct vr_error err;
	if (stlink_open_with(&t, &o, &p, &err) == VR_OK) {
		exercise_probe(&p);
		p.ops->close(p.ctx);
	}
	return 0;
}
