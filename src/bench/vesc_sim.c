#include "bench/vesc_sim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "crc.h"
#include "vesc_proto.h"

/* PACKET_MAX_PL_LEN + 8 of the largest generation (1024 before 3.48). */
#define FW_RX_BUF_MAX (1024u + 8u)
#define OUT_CHUNKS 48
#define OUT_CHUNK_MAX 1100u
#define READ_CHUNK 4096
#define IDLE_POLL_MS 20
#define HUP_WAIT_MS 10
/* Bytes already on the wire reach the host before a USB device vanishes. */
#define DISCONNECT_GRACE_MS 50

/* Flash layout the update commands use (reference §4.1). */
#define STAGING_ADDR 0x08080000u
#define BOOTLOADER_ADDR 0x080E0000u
#define SECTOR_128K (128u * 1024u)

/* The firmware's receive state. Two decoders existed: the scanning one
 * (FW >= 3.48) and the byte state machine before it. */
struct fw_decoder {
	bool scanning;
	unsigned max_payload;       /* 512 from 3.48, 1024 before */
	unsigned buf_len;           /* max_payload + 8 */
	unsigned timeout_ms;        /* idle reset; 0 = none (FW >= 5.03) */
	uint64_t last_byte_ms;
	bool seen_byte;
	/* scanning decoder: linear buffer [rd, wr), hold-back count */
	uint8_t buf[FW_RX_BUF_MAX];
	unsigned rd, wr, bytes_left;
	/* state machine */
	int state;
	unsigned payload_len, got;
	uint8_t crc_hi, crc_lo;
};

struct out_chunk {
	uint64_t due_ms;
	size_t len, off;
	bool close_after;           /* the port goes away once this is out */
	uint8_t data[OUT_CHUNK_MAX];
};

struct vesc_sim {
	struct vesc_sim_config cfg;
	struct vesc_sim_flash flash;
	int master;
	int stop_pipe[2];
	pthread_t thread;
	bool thread_started;
	char port[64];
	pthread_mutex_t stats_lock;
	struct vesc_sim_stats stats;
	pthread_mutex_t private_flash_lock;
	uint8_t *private_flash;
	struct fw_decoder rx;
	struct out_chunk *out;      /* ring of OUT_CHUNKS */
	unsigned out_head, out_count;
	uint32_t rng;               /* noise towards the host */
	uint32_t rng_rx;            /* garbage the decoder samples: its own, so that
	                             * how reads are chunked does not change it */
	uint64_t next_periodic_ms;
	unsigned periodic_count;
	bool answered_once;         /* PARTIAL, DISCONNECT */
	bool hup;                   /* no slave open right now */
	bool jump_pending;
	uint64_t close_at_ms;       /* DISCONNECT: when the port goes away (0: not planned) */
	unsigned busy_ms;           /* erase time to add to the next reply */
};

static const char *const behaviour_names[VESC_SIM_BEHAVIOUR_COUNT_] = {
	"healthy", "silent", "noise", "slow", "partial", "wrong-baud",
	"disconnect", "echo", "nmea", "noisy-link",
};

const char *vesc_sim_behaviour_name(enum vesc_sim_behaviour b)
{
	return (unsigned)b < VESC_SIM_BEHAVIOUR_COUNT_ ? behaviour_names[b] : "?";
}

void vesc_sim_config_defaults(struct vesc_sim_config *cfg)
{
	static const uint8_t uuid[12] = {0x3a, 0x00, 0x29, 0x00, 0x0f, 0x47, 0x36, 0x30,
					 0x38, 0x31, 0x34, 0x35};
	memset(cfg, 0, sizeof *cfg);
	cfg->behaviour = VESC_SIM_HEALTHY;
	cfg->fw_major = 6;
	cfg->fw_minor = 5;
	snprintf(cfg->hw_name, sizeof cfg->hw_name, "60");
	memcpy(cfg->uuid, uuid, sizeof uuid);
	cfg->hw_conf_crc = 0x5A3C96E1u;
	cfg->reply_delay_ms = 800;
	cfg->baud = 115200;
	cfg->noise_len = 48;
	cfg->period_ms = 100;
	cfg->seed = 0x2545F491u;
}

/* ---- small helpers -------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int fw_version_code(const struct vesc_sim_config *c)
{
	return c->fw_major * 1000 + c->fw_minor;
}

static uint32_t xorshift32(uint32_t *state)
{
	uint32_t x = *state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

static uint32_t next_random(struct vesc_sim *s)
{
	return xorshift32(&s->rng);
}

/* Line noise that can never form a frame: no start byte 2 or 3. */
static uint8_t noise_byte(struct vesc_sim *s)
{
	for (;;) {
		uint8_t b = (uint8_t)(next_random(s) >> 11);
		if (b != 0x02 && b != 0x03)
			return b;
	}
}

static void stats_add(struct vesc_sim *s, unsigned long *field, unsigned long n)
{
	pthread_mutex_lock(&s->stats_lock);
	*field += n;
	pthread_mutex_unlock(&s->stats_lock);
}

static void stats_inc(struct vesc_sim *s, unsigned *field)
{
	pthread_mutex_lock(&s->stats_lock);
	(*field)++;
	pthread_mutex_unlock(&s->stats_lock);
}

/* ---- output: a queue of timed chunks towards the master ---------------------- */

static struct out_chunk *out_push(struct vesc_sim *s, uint64_t due_ms)
{
	if (s->out_count == OUT_CHUNKS)
		return NULL;   /* a full USB FIFO drops, as the firmware's writes do */
	struct out_chunk *c = &s->out[(s->out_head + s->out_count) % OUT_CHUNKS];
	s->out_count++;
	memset(c, 0, offsetof(struct out_chunk, data));
	c->due_ms = due_ms;
	return c;
}

static void enqueue(struct vesc_sim *s, const uint8_t *data, size_t len, uint64_t due_ms,
		    bool close_after)
{
	do {
		struct out_chunk *c = out_push(s, due_ms);
		if (c == NULL)
			return;
		size_t n = len < OUT_CHUNK_MAX ? len : OUT_CHUNK_MAX;
		if (n)
			memcpy(c->data, data, n);
		c->len = n;
		data += n;
		len -= n;
		c->close_after = close_after && len == 0;
	} while (len > 0);
}

static void enqueue_noise(struct vesc_sim *s, size_t len, uint64_t due_ms)
{
	uint8_t buf[OUT_CHUNK_MAX];
	if (len > sizeof buf)
		len = sizeof buf;
	for (size_t i = 0; i < len; i++)
		buf[i] = noise_byte(s);
	enqueue(s, buf, len, due_ms, false);
}

/* Marked gone first: whoever sees the hangup must find it recorded. */
static void go_away(struct vesc_sim *s)
{
	pthread_mutex_lock(&s->stats_lock);
	s->stats.gone = true;
	pthread_mutex_unlock(&s->stats_lock);
	if (s->master >= 0) {
		close(s->master);
		s->master = -1;
	}
	s->out_count = 0;
}

static void pump_output(struct vesc_sim *s, uint64_t now)
{
	while (s->out_count > 0 && s->master >= 0) {
		struct out_chunk *c = &s->out[s->out_head];
		if (c->due_ms > now)
			return;
		while (c->off < c->len) {
			ssize_t n = write(s->master, c->data + c->off, c->len - c->off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return;   /* the slave's queue is full: retry later */
			c->off += (size_t)n;
			stats_add(s, &s->stats.bytes_out, (unsigned long)n);
		}
		if (c->close_after)
			s->close_at_ms = now + DISCONNECT_GRACE_MS;
		s->out_head = (s->out_head + 1) % OUT_CHUNKS;
		s->out_count--;
	}
}

/* ---- flash model ------------------------------------------------------------ */

static uint8_t *private_flash_bytes(void *ctx)
{
	return ((struct vesc_sim *)ctx)->private_flash;
}

static void private_flash_lock(void *ctx)
{
	pthread_mutex_lock(&((struct vesc_sim *)ctx)->private_flash_lock);
}

static void private_flash_unlock(void *ctx)
{
	pthread_mutex_unlock(&((struct vesc_sim *)ctx)->private_flash_lock);
}

static uint8_t *flash_begin(struct vesc_sim *s)
{
	if (s->flash.lock)
		s->flash.lock(s->flash.ctx);
	return s->flash.flash(s->flash.ctx);
}

static void flash_end(struct vesc_sim *s)
{
	if (s->flash.unlock)
		s->flash.unlock(s->flash.ctx);
}

static bool erase_range(struct vesc_sim *s, uint32_t addr, uint32_t size)
{
	uint8_t *f = flash_begin(s);
	if (f)
		memset(f + (addr - VESC_SIM_FLASH_BASE), 0xFF, size);
	flash_end(s);
	if (f) {
		stats_inc(s, &s->stats.sector_erases);
		s->busy_ms += s->cfg.erase_ms_per_sector;
	}
	return f != NULL;
}

/* flash_helper_erase_new_app: sectors 8, 9, 10 while the image reaches them. */
static bool erase_new_app(struct vesc_sim *s, uint32_t image_size)
{
	uint64_t end = (uint64_t)STAGING_ADDR + image_size;
	for (unsigned i = 0; i < 3; i++) {
		uint32_t sector = STAGING_ADDR + i * SECTOR_128K;
		if (end <= sector)
			break;
		if (!erase_range(s, sector, SECTOR_128K))
			return false;
	}
	return true;
}

/* Programming only clears bits. The firmware does no bounds check; past
 * the end of flash the real write faults, here it fails. */
static bool program(struct vesc_sim *s, uint32_t offset, const uint8_t *data, size_t len)
{
	uint64_t addr = (uint64_t)STAGING_ADDR + offset;
	if (addr + len > (uint64_t)VESC_SIM_FLASH_BASE + VESC_SIM_FLASH_SIZE)
		return false;
	uint8_t *f = flash_begin(s);
	if (f) {
		uint8_t *dst = f + (addr - VESC_SIM_FLASH_BASE);
		for (size_t i = 0; i < len; i++)
			dst[i] &= data[i];
	}
	flash_end(s);
	return f != NULL;
}

/* ---- firmware: sending ------------------------------------------------------- */

/* As packet_send_packet frames it; the sender before 3.48 put lengths up
 * to 256 in one byte, so 256 goes out as "02 00". */
static void fw_send(struct vesc_sim *s, const uint8_t *payload, unsigned len, uint8_t *frame,
		    size_t *frame_len)
{
	bool old_sender = fw_version_code(&s->cfg) < 3048;
	size_t n = 0;
	if (len <= 255 || (old_sender && len == 256)) {
		frame[n++] = 2;
		frame[n++] = (uint8_t)len;
	} else {
		frame[n++] = 3;
		frame[n++] = (uint8_t)(len >> 8);
		frame[n++] = (uint8_t)len;
	}
	memcpy(frame + n, payload, len);
	n += len;
	uint16_t crc = crc16_xmodem(payload, len);
	frame[n++] = (uint8_t)(crc >> 8);
	frame[n++] = (uint8_t)crc;
	frame[n++] = 3;
	*frame_len = n;
}

/* Hands a reply to the link, which treats it as the behaviour says. */
static void reply(struct vesc_sim *s, const uint8_t *payload, unsigned len, uint64_t now)
{
	now += s->busy_ms;   /* the firmware was busy erasing */
	s->busy_ms = 0;
	if (len == 0 || len > s->rx.max_payload)
		return;
	uint8_t frame[FW_RX_BUF_MAX + 8];
	size_t n = 0;
	fw_send(s, payload, len, frame, &n);
	switch (s->cfg.behaviour) {
	case VESC_SIM_SLOW:
		enqueue(s, frame, n, now + s->cfg.reply_delay_ms, false);
		break;
	case VESC_SIM_NOISY_LINK:
		enqueue_noise(s, s->cfg.noise_len / 2 + 1, now);
		enqueue(s, frame, n, now, false);
		enqueue_noise(s, s->cfg.noise_len / 2 + 1, now);
		break;
	case VESC_SIM_PARTIAL:
		if (s->answered_once)
			return;
		s->answered_once = true;
		enqueue(s, frame, n / 2, now, false);
		break;
	case VESC_SIM_DISCONNECT:
		if (s->answered_once)
			return;
		s->answered_once = true;
		enqueue(s, frame, n / 2, now, true);
		break;
	default:
		enqueue(s, frame, n, now, false);
		break;
	}
	stats_inc(s, &s->stats.frames_answered);
}

/* ---- firmware: commands --------------------------------------------------------- */

static size_t put_string(uint8_t *p, const char *str)
{
	size_t n = strnlen(str, 31);
	memcpy(p, str, n);
	p[n] = 0;
	return n + 1;
}

/* COMM_FW_VERSION as each generation builds it (reference §3). */
static size_t build_fw_version(const struct vesc_sim_config *c, uint8_t *b)
{
	int v = fw_version_code(c);
	size_t n = 0;
	b[n++] = VESC_COMM_FW_VERSION;
	b[n++] = (uint8_t)c->fw_major;
	b[n++] = (uint8_t)c->fw_minor;
	if (v < 3009)
		return n;
	n += put_string(b + n, c->hw_name);
	memcpy(b + n, c->uuid, 12);
	n += 12;
	if (v < 3048)
		return n;
	b[n++] = (uint8_t)c->pairing_done;
	if (v < 5000)
		return n;
	b[n++] = (uint8_t)c->test_version;
	if (v < 5002)
		return n;
	b[n++] = 0;    /* HW_TYPE_VESC */
	b[n++] = 0;    /* custom configs */
	if (v < 5003)
		return n;
	b[n++] = 0;    /* phase filters */
	b[n++] = 0;    /* qml_hw */
	b[n++] = 0;    /* qml_app */
	if (v < 6000)
		return n;
	b[n++] = 0;    /* nrf_flags */
	n += put_string(b + n, c->fw_name);
	if (v < 6005)
		return n;
	vesc_put_u32(b + n, c->hw_conf_crc);
	return n + 4;
}

static void send_old_bug_frame(struct vesc_sim *s, uint64_t now)
{
	uint8_t payload[256];
	for (unsigned i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(0x40 + i % 64);
	uint8_t frame[270];
	size_t n = 0;
	fw_send(s, payload, sizeof payload, frame, &n);
	enqueue(s, frame, n, now, false);
}

static void cmd_fw_version(struct vesc_sim *s, uint64_t now)
{
	uint8_t b[96];
	stats_inc(s, &s->stats.fw_version_requests);
	if (s->cfg.old_length_bug && fw_version_code(&s->cfg) < 3048)
		send_old_bug_frame(s, now);
	reply(s, b, (unsigned)build_fw_version(&s->cfg, b), now);
}

/* Missing argument bytes read as 0 (the firmware reads past the end). */
static uint32_t arg_u32(const uint8_t *p, unsigned len)
{
	uint8_t b[4] = {0};
	memcpy(b, p, len < 4 ? len : 4);
	return vesc_get_u32(b);
}

static void cmd_erase_new_app(struct vesc_sim *s, const uint8_t *arg, unsigned len, uint64_t now)
{
	uint8_t b[2] = {VESC_COMM_ERASE_NEW_APP, 0};
	b[1] = erase_new_app(s, arg_u32(arg, len)) ? 1 : 0;
	reply(s, b, 2, now);
}

static void cmd_erase_bootloader(struct vesc_sim *s, uint64_t now)
{
	uint8_t b[2] = {VESC_COMM_ERASE_BOOTLOADER, 0};
	b[1] = erase_range(s, BOOTLOADER_ADDR, SECTOR_128K) ? 1 : 0;
	reply(s, b, 2, now);
}

static void cmd_write(struct vesc_sim *s, const uint8_t *arg, unsigned len, uint64_t now)
{
	uint32_t offset = arg_u32(arg, len);
	bool ok = len >= 4 && program(s, offset, arg + 4, len - 4);
	stats_inc(s, ok ? &s->stats.writes : &s->stats.write_failures);
	uint8_t b[6] = {VESC_COMM_WRITE_NEW_APP_DATA, ok ? 1 : 0};
	unsigned n = 2;
	if (s->cfg.fw_major >= 5) {
		vesc_put_u32(b + 2, offset);
		n = 6;
	}
	reply(s, b, n, now);
}

static void cmd_jump(struct vesc_sim *s)
{
	pthread_mutex_lock(&s->stats_lock);
	s->stats.jumped = true;
	pthread_mutex_unlock(&s->stats_lock);
	/* USB is stopped at once: no reply, nothing queued gets out */
	s->jump_pending = true;
}

static void fw_process_packet(struct vesc_sim *s, const uint8_t *p, unsigned len, uint64_t now)
{
	stats_inc(s, &s->stats.requests);
	if (s->jump_pending)
		return;
	switch (p[0]) {
	case VESC_COMM_FW_VERSION:
		cmd_fw_version(s, now);
		break;
	case VESC_COMM_JUMP_TO_BOOTLOADER:
		cmd_jump(s);
		break;
	case VESC_COMM_ERASE_NEW_APP:
		cmd_erase_new_app(s, p + 1, len - 1, now);
		break;
	case VESC_COMM_WRITE_NEW_APP_DATA:
		cmd_write(s, p + 1, len - 1, now);
		break;
	case VESC_COMM_ERASE_BOOTLOADER:
		if (fw_version_code(&s->cfg) >= 3059)
			cmd_erase_bootloader(s, now);
		break;
	default:
		break;   /* unknown commands are ignored by the firmware */
	}
}

/* ---- firmware: receiving ----------------------------------------------------------- */

static void fw_decoder_init(struct fw_decoder *d, int version)
{
	memset(d, 0, sizeof *d);
	d->scanning = version >= 3048;
	d->max_payload = d->scanning ? 512 : 1024;
	d->buf_len = d->max_payload + 8;
	if (version >= 5003)
		d->timeout_ms = 0;
	else if (version >= 3029)
		d->timeout_ms = 1000;
	else
		d->timeout_ms = 2;
}

static void fw_decoder_reset(struct fw_decoder *d)
{
	d->rd = d->wr = d->bytes_left = 0;
	d->state = 0;
}

/* try_decode_packet's verdict at the read position: > 0 frame length
 * (processed), -1 invalid, -2 need *need more bytes. */
static int fw_try_decode(struct vesc_sim *s, const uint8_t *p, unsigned n, unsigned *need,
			 uint64_t now)
{
	*need = 0;
	if (n == 0) {
		*need = 1;
		return -2;
	}
	unsigned header;
	if (p[0] == 2)
		header = 2;
	else if (p[0] == 3)
		header = 3;
	else
		return -1;   /* 4 only when the payload limit exceeds 65535: never */
	if (n < header) {
		*need = header - n;
		return -2;
	}
	unsigned len = header == 2 ? p[1] : ((unsigned)p[1] << 8 | p[2]);
	if ((header == 2 && len == 0) || (header == 3 && len < 255) || len > s->rx.max_payload)
		return -1;
	unsigned total = header + len + 3;
	if (n < total) {
		*need = total - n;
		return -2;
	}
	if (p[total - 1] != 3)
		return -1;
	uint16_t crc = (uint16_t)(p[header + len] << 8 | p[header + len + 1]);
	if (crc16_xmodem(p + header, len) != crc)
		return -1;
	fw_process_packet(s, p + header, len, now);
	return (int)total;
}

static void fw_scan_byte(struct vesc_sim *s, uint8_t byte, uint64_t now)
{
	struct fw_decoder *d = &s->rx;
	unsigned held = d->wr - d->rd;
	if (held >= d->buf_len) {
		/* out of space: everything dropped, this byte starts over */
		fw_decoder_reset(d);
		d->buf[d->wr++] = byte;
		return;
	}
	if (d->wr >= d->buf_len) {
		memmove(d->buf, d->buf + d->rd, held);
		d->rd = 0;
		d->wr = held;
	}
	d->buf[d->wr++] = byte;
	held++;
	if (d->bytes_left > 1) {
		d->bytes_left--;
		return;
	}
	for (;;) {
		unsigned need;
		int r = fw_try_decode(s, d->buf + d->rd, held, &need, now);
		d->bytes_left = need;
		if (r == -2)
			break;
		unsigned step = r > 0 ? (unsigned)r : 1u;
		d->rd += step;
		held -= step;
	}
	if (held == 0)
		d->rd = d->wr = 0;
}

/* The state machine of FW < 3.48: a bad frame is dropped whole, nothing
 * is rescanned. */
static void fw_state_byte(struct vesc_sim *s, uint8_t byte, uint64_t now)
{
	struct fw_decoder *d = &s->rx;
	switch (d->state) {
	case 0:
		if (byte == 2 || byte == 3) {
			d->state = byte == 2 ? 2 : 1;
			d->payload_len = 0;
			d->got = 0;
		}
		break;
	case 1:
		d->payload_len = (unsigned)byte << 8;
		d->state = 2;
		break;
	case 2:
		d->payload_len |= byte;
		d->state = d->payload_len > 0 && d->payload_len <= d->max_payload ? 3 : 0;
		break;
	case 3:
		d->buf[d->got++] = byte;
		if (d->got == d->payload_len)
			d->state = 4;
		break;
	case 4:
		d->crc_hi = byte;
		d->state = 5;
		break;
	case 5:
		d->crc_lo = byte;
		d->state = 6;
		break;
	default:
		d->state = 0;
		if (byte == 3 && crc16_xmodem(d->buf, d->payload_len) ==
					 (uint16_t)(d->crc_hi << 8 | d->crc_lo))
			fw_process_packet(s, d->buf, d->payload_len, now);
		break;
	}
}

static void fw_rx_byte(struct vesc_sim *s, uint8_t byte, uint64_t now)
{
	struct fw_decoder *d = &s->rx;
	if (d->timeout_ms && d->seen_byte && now - d->last_byte_ms > d->timeout_ms)
		fw_decoder_reset(d);
	d->seen_byte = true;
	d->last_byte_ms = now;
	if (d->scanning)
		fw_scan_byte(s, byte, now);
	else
		fw_state_byte(s, byte, now);
}

/* ---- the link ------------------------------------------------------------------------ */

static speed_t speed_of(unsigned baud)
{
	static const struct { unsigned baud; speed_t code; } table[] = {
		{9600, B9600}, {19200, B19200}, {38400, B38400}, {57600, B57600},
		{115200, B115200}, {230400, B230400}, {460800, B460800}, {921600, B921600},
	};
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (table[i].baud == baud)
			return table[i].code;
	return B0;
}

/* On Linux tcgetattr on the master reports the slave's settings. */
static bool baud_matches(struct vesc_sim *s)
{
	struct termios t;
	if (tcgetattr(s->master, &t) != 0)
		return false;
	speed_t want = speed_of(s->cfg.baud);
	return want != B0 && cfgetospeed(&t) == want;
}

/* A UART at the wrong rate: the VESC samples garbage and the host gets
 * garbage back. Unless garble_decoder is set, the garbage it samples has
 * the high bit set and so never starts a frame. */
static void wrong_rate_bytes(struct vesc_sim *s, const uint8_t *in, size_t n, uint64_t now)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t sampled = (uint8_t)(in[i] >> 1 | 0x80);
		if (s->cfg.garble_decoder)
			sampled = (uint8_t)(xorshift32(&s->rng_rx) >> 7) ^ in[i];
		fw_rx_byte(s, sampled, now);
	}
	uint8_t out[READ_CHUNK];
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(noise_byte(s) | 0x80);
	enqueue(s, out, n, now, false);
}

static void feed_firmware(struct vesc_sim *s, const uint8_t *in, size_t n, uint64_t now)
{
	for (size_t i = 0; i < n; i++)
		fw_rx_byte(s, in[i], now);
}

/* Counted once handled, so that a test seeing the count knows how the
 * bytes were judged (at which rate, for instance). */
static void handle_input(struct vesc_sim *s, const uint8_t *in, size_t n, uint64_t now)
{
	switch (s->cfg.behaviour) {
	case VESC_SIM_SILENT:
	case VESC_SIM_NMEA:
		break;
	case VESC_SIM_ECHO:
		enqueue(s, in, n, now, false);
		break;
	case VESC_SIM_NOISE:
		enqueue_noise(s, s->cfg.noise_len, now);
		break;
	case VESC_SIM_WRONG_BAUD:
		if (baud_matches(s))
			feed_firmware(s, in, n, now);
		else
			wrong_rate_bytes(s, in, n, now);
		break;
	default:
		feed_firmware(s, in, n, now);
		break;
	}
	stats_add(s, &s->stats.bytes_in, n);
}

static void emit_nmea(struct vesc_sim *s, uint64_t now)
{
	char body[96], line[112];
	unsigned t = s->periodic_count++;
	snprintf(body, sizeof body,
		 "GPGGA,%02u%02u%02u.00,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,",
		 (t / 36000) % 24, (t / 600) % 60, (t / 10) % 60);
	uint8_t sum = 0;
	for (const char *c = body; *c; c++)
		sum ^= (uint8_t)*c;
	int n = snprintf(line, sizeof line, "$%s*%02X\r\n", body, sum);
	if (n > 0)
		enqueue(s, (const uint8_t *)line, (size_t)n, now, false);
}

/* Spontaneous output, only while someone has the port open. */
static void periodic(struct vesc_sim *s, uint64_t now)
{
	bool talks = s->cfg.behaviour == VESC_SIM_NMEA || s->cfg.behaviour == VESC_SIM_NOISE;
	if (!talks || s->hup || s->master < 0 || now < s->next_periodic_ms)
		return;
	s->next_periodic_ms = now + (s->cfg.period_ms ? s->cfg.period_ms : 100);
	if (s->out_count > OUT_CHUNKS / 2)
		return;   /* nobody reads: do not pile up */
	if (s->cfg.behaviour == VESC_SIM_NMEA)
		emit_nmea(s, now);
	else
		enqueue_noise(s, s->cfg.noise_len, now);
}

/* Milliseconds until `due`, at most `cap`. */
static int wait_until(uint64_t now, uint64_t due, int cap)
{
	if (due <= now)
		return 0;
	return due - now < (uint64_t)cap ? (int)(due - now) : cap;
}

static int poll_timeout(const struct vesc_sim *s, uint64_t now)
{
	int t = IDLE_POLL_MS;
	if (s->close_at_ms)
		t = wait_until(now, s->close_at_ms, t);
	if (s->out_count > 0) {
		/* a blocked write is retried every 2 ms */
		int due = wait_until(now, s->out[s->out_head].due_ms, t);
		t = due > 2 ? due : 2;
	}
	return t;
}

static void read_master(struct vesc_sim *s, uint64_t now)
{
	uint8_t buf[READ_CHUNK];
	ssize_t n = read(s->master, buf, sizeof buf);
	if (n > 0) {
		s->hup = false;
		handle_input(s, buf, (size_t)n, now);
	} else if (n == 0 || errno == EIO) {
		s->hup = true;   /* no slave open */
	}
}

static void finish_jump(struct vesc_sim *s)
{
	s->jump_pending = false;
	go_away(s);
	if (s->cfg.on_jump)
		s->cfg.on_jump(s->cfg.on_jump_ctx);
}

/* While no slave is open the master reports POLLHUP at once; polling it
 * every other round, with a pause between, keeps the thread from
 * spinning. No event at all means someone may be listening. */
static void poll_round(struct vesc_sim *s, struct pollfd *master, bool watched, uint64_t now)
{
	if (!watched)
		return;
	if (master->revents & POLLIN)
		read_master(s, now);
	else
		s->hup = (master->revents & (POLLHUP | POLLERR)) != 0;
}

static void *sim_thread(void *arg)
{
	struct vesc_sim *s = arg;
	bool watched_last = false;
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd fds[2] = {{.fd = s->stop_pipe[0], .events = POLLIN},
					{.fd = s->master, .events = POLLIN}};
		bool watch = s->master >= 0 && !(s->hup && watched_last);
		int timeout = watch ? poll_timeout(s, now) : (s->master >= 0 ? HUP_WAIT_MS : -1);
		int r = poll(fds, watch ? 2 : 1, timeout);
		if (r < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			break;
		now = now_ms();
		watched_last = watch;
		poll_round(s, &fds[1], watch && r >= 0, now);
		if (s->jump_pending)
			finish_jump(s);
		if (s->close_at_ms && now >= s->close_at_ms) {
			s->close_at_ms = 0;
			go_away(s);
		}
		pump_output(s, now);
		periodic(s, now);
	}
	return NULL;
}

/* ---- start / stop ---------------------------------------------------------------------- */

static vr_err open_pty(struct vesc_sim *s, struct vr_error *err)
{
	s->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s->master < 0)
		return vr_fail(err, VR_ERR_IO, "simulated VESC: posix_openpt: %s", strerror(errno));
	if (grantpt(s->master) != 0 || unlockpt(s->master) != 0 ||
	    ptsname_r(s->master, s->port, sizeof s->port) != 0)
		return vr_fail(err, VR_ERR_IO, "simulated VESC: setting up the pty: %s",
			       strerror(errno));
	/* raw 8N1 from the start, so the line discipline neither echoes nor
	 * edits what either side sends before the client configures it */
	struct termios t;
	if (tcgetattr(s->master, &t) == 0) {
		cfmakeraw(&t);
		cfsetspeed(&t, B115200);
		tcsetattr(s->master, TCSANOW, &t);
	}
	int fl = fcntl(s->master, F_GETFL);
	if (fl < 0 || fcntl(s->master, F_SETFL, fl | O_NONBLOCK) != 0)
		return vr_fail(err, VR_ERR_IO, "simulated VESC: fcntl: %s", strerror(errno));
	return VR_OK;
}

static vr_err check_config(const struct vesc_sim_config *cfg, struct vr_error *err)
{
	if ((unsigned)cfg->behaviour >= VESC_SIM_BEHAVIOUR_COUNT_)
		return vr_fail(err, VR_ERR_USAGE, "simulated VESC: unknown behaviour %d",
			       (int)cfg->behaviour);
	if (cfg->fw_major < 0 || cfg->fw_major > 255 || cfg->fw_minor < 0 || cfg->fw_minor > 255)
		return vr_fail(err, VR_ERR_USAGE, "simulated VESC: firmware %d.%02d is not a version",
			       cfg->fw_major, cfg->fw_minor);
	if (cfg->flash && !cfg->flash->flash)
		return vr_fail(err, VR_ERR_USAGE, "simulated VESC: flash hooks without flash()");
	return VR_OK;
}

static vr_err init_flash(struct vesc_sim *s, const struct vesc_sim_flash *hooks,
			 struct vr_error *err)
{
	if (hooks) {
		s->flash = *hooks;
		return VR_OK;
	}
	s->private_flash = malloc(VESC_SIM_FLASH_SIZE);
	if (!s->private_flash)
		return vr_fail(err, VR_ERR_NOMEM, "simulated VESC: no memory for its flash");
	memset(s->private_flash, 0xFF, VESC_SIM_FLASH_SIZE);
	s->flash = (struct vesc_sim_flash){s, private_flash_bytes, private_flash_lock,
					   private_flash_unlock};
	return VR_OK;
}

static struct vesc_sim *sim_alloc(const struct vesc_sim_config *cfg)
{
	struct vesc_sim *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->out = calloc(OUT_CHUNKS, sizeof *s->out);
	if (!s->out) {
		free(s);
		return NULL;
	}
	s->cfg = *cfg;
	s->cfg.flash = NULL;   /* copied into s->flash; the caller's struct may go */
	s->cfg.hw_name[sizeof s->cfg.hw_name - 1] = '\0';
	s->cfg.fw_name[sizeof s->cfg.fw_name - 1] = '\0';
	s->master = -1;
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	s->rng = cfg->seed ? cfg->seed : 1;
	s->rng_rx = s->rng ^ 0x9E3779B9u;
	pthread_mutex_init(&s->stats_lock, NULL);
	pthread_mutex_init(&s->private_flash_lock, NULL);
	fw_decoder_init(&s->rx, fw_version_code(cfg));
	return s;
}

vr_err vesc_sim_start(const struct vesc_sim_config *cfg, struct vesc_sim **out,
		      struct vr_error *err)
{
	*out = NULL;
	vr_err rc = check_config(cfg, err);
	if (rc != VR_OK)
		return rc;
	struct vesc_sim *s = sim_alloc(cfg);
	if (!s)
		return vr_fail(err, VR_ERR_NOMEM, "simulated VESC: out of memory");
	rc = init_flash(s, cfg->flash, err);
	if (rc == VR_OK)
		rc = open_pty(s, err);
	if (rc == VR_OK && pipe2(s->stop_pipe, O_CLOEXEC) != 0)
		rc = vr_fail(err, VR_ERR_IO, "simulated VESC: pipe: %s", strerror(errno));
	if (rc == VR_OK) {
		int e = pthread_create(&s->thread, NULL, sim_thread, s);
		if (e != 0)
			rc = vr_fail(err, VR_ERR_IO, "simulated VESC: thread: %s", strerror(e));
		else
			s->thread_started = true;
	}
	if (rc != VR_OK) {
		vesc_sim_stop(s);
		return rc;
	}
	*out = s;
	return VR_OK;
}

void vesc_sim_stop(struct vesc_sim *s)
{
	if (!s)
		return;
	if (s->thread_started) {
		const char stop = 1;
		while (write(s->stop_pipe[1], &stop, 1) < 0 && errno == EINTR)
			;
		pthread_join(s->thread, NULL);
	}
	if (s->master >= 0)
		close(s->master);
	for (int i = 0; i < 2; i++)
		if (s->stop_pipe[i] >= 0)
			close(s->stop_pipe[i]);
	pthread_mutex_destroy(&s->stats_lock);
	pthread_mutex_destroy(&s->private_flash_lock);
	free(s->private_flash);
	free(s->out);
	free(s);
}

const char *vesc_sim_port(const struct vesc_sim *s)
{
	return s->port;
}

void vesc_sim_get_stats(struct vesc_sim *s, struct vesc_sim_stats *out)
{
	pthread_mutex_lock(&s->stats_lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->stats_lock);
}

vr_err vesc_sim_read_flash(struct vesc_sim *s, uint32_t addr, void *buf, size_t len,
			   struct vr_error *err)
{
	if (addr < VESC_SIM_FLASH_BASE ||
	    (uint64_t)addr + len > (uint64_t)VESC_SIM_FLASH_BASE + VESC_SIM_FLASH_SIZE)
		return vr_fail(err, VR_ERR_INTERNAL, "simulated VESC: 0x%08X+%zu is outside its flash",
			       (unsigned)addr, len);
	uint8_t *f = flash_begin(s);
	if (f)
		memcpy(buf, f + (addr - VESC_SIM_FLASH_BASE), len);
	flash_end(s);
	if (!f)
		return vr_fail(err, VR_ERR_INTERNAL, "simulated VESC: its flash is not available");
	return VR_OK;
}
