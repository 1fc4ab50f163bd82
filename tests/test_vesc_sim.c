/* The simulated VESC through a real pty: every behaviour is met the way a
 * probe meets it (open the slave raw, send a request built with the codec,
 * read with poll, decode with the host decoder). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "bench/vesc_sim.h"
#include "vesc_proto.h"

#define MAX_FRAMES 8

struct link {
	int fd;
	struct vesc_decoder dec;
	unsigned n_frames;
	size_t len[MAX_FRAMES];
	uint8_t payload[MAX_FRAMES][600];
	uint8_t raw[8192];
	size_t raw_len;
	bool hup;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int open_raw(const char *path, speed_t speed)
{
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct termios t;
	assert_int_equal(tcgetattr(fd, &t), 0);
	cfmakeraw(&t);
	cfsetspeed(&t, speed);
	assert_int_equal(tcsetattr(fd, TCSANOW, &t), 0);
	return fd;
}

static struct link *link_open(const char *path, speed_t speed)
{
	struct link *l = calloc(1, sizeof *l);
	assert_non_null(l);
	l->fd = open_raw(path, speed);
	assert_true(l->fd >= 0);
	vesc_decoder_init(&l->dec);
	return l;
}

static void link_close(struct link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		assert_true(w > 0);
		p += w;
		n -= (size_t)w;
	}
}

static void send_payload(struct link *l, const uint8_t *payload, size_t len)
{
	uint8_t frame[600];
	size_t n = 0;
	assert_int_equal(vesc_encode(payload, len, frame, sizeof frame, &n, NULL), VR_OK);
	write_all(l->fd, frame, n);
}

static void send_fw_version(struct link *l)
{
	uint8_t pl[1];
	send_payload(l, pl, vesc_build_fw_version(pl, sizeof pl));
}

static void take_frames(struct link *l)
{
	const uint8_t *pl;
	size_t len;
	while (vesc_decoder_next(&l->dec, &pl, &len)) {
		assert_true(l->n_frames < MAX_FRAMES);
		l->len[l->n_frames] = len;
		memcpy(l->payload[l->n_frames], pl, len < 600 ? len : 600);
		l->n_frames++;
	}
}

/* Reads for up to ms, or until `frames` frames in total have come. */
static void read_for(struct link *l, unsigned ms, unsigned frames)
{
	uint64_t end = mono_ms() + ms;
	while (l->n_frames < frames && !l->hup) {
		uint64_t now = mono_ms();
		if (now >= end)
			break;
		struct pollfd p = {.fd = l->fd, .events = POLLIN};
		int r = poll(&p, 1, (int)(end - now));
		if (r <= 0)
			continue;
		uint8_t buf[1024];
		ssize_t n = read(l->fd, buf, sizeof buf);
		if (n <= 0) {
			if (n == 0 || errno == EIO)
				l->hup = true;
			continue;
		}
		size_t keep = sizeof l->raw - l->raw_len;
		keep = keep < (size_t)n ? keep : (size_t)n;
		memcpy(l->raw + l->raw_len, buf, keep);
		l->raw_len += keep;
		for (size_t off = 0; off < (size_t)n;) {
			off += vesc_decoder_feed(&l->dec, buf + off, (size_t)n - off);
			take_frames(l);
		}
	}
}

static struct vesc_sim *start(const struct vesc_sim_config *cfg)
{
	struct vesc_sim *sim = NULL;
	struct vr_error err;
	assert_int_equal(vesc_sim_start(cfg, &sim, &err), VR_OK);
	assert_non_null(sim);
	return sim;
}

/* ---- healthy, one per generation ---- */

static void check_version(int major, int minor, unsigned expect_len)
{
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.fw_major = major;
	cfg.fw_minor = minor;
	snprintf(cfg.hw_name, sizeof cfg.hw_name, "60");
	snprintf(cfg.fw_name, sizeof cfg.fw_name, "vendor");
	cfg.hw_conf_crc = 0x01020304u;
	struct vesc_sim *sim = start(&cfg);
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	send_fw_version(l);
	read_for(l, 1000, 1);
	assert_int_equal(l->n_frames, 1);
	struct fw_version fw;
	assert_int_equal(vesc_fw_version_parse(l->payload[0], l->len[0], &fw, NULL), VR_OK);
	assert_int_equal(fw.major, major);
	assert_int_equal(fw.minor, minor);
	assert_int_equal(fw.payload_len, expect_len);
	if (expect_len > 3) {
		assert_string_equal(fw.hw_name, "60");
		assert_true(fw.has_uuid);
		assert_memory_equal(fw.uuid, cfg.uuid, 12);
	} else {
		assert_false(fw.has_uuid);
	}
	assert_int_equal(fw.test_version, major >= 5 ? 0 : -1);
	assert_int_equal(fw.hw_type, major >= 5 ? 0 : -1);
	assert_string_equal(fw.fw_name, major >= 6 ? "vendor" : "");
	assert_int_equal(fw.has_hw_conf_crc, major >= 6);
	if (major >= 6)
		assert_int_equal(fw.hw_conf_crc, 0x01020304u);
	struct vesc_sim_stats st;
	vesc_sim_get_stats(sim, &st);
	assert_int_equal(st.requests, 1);
	assert_int_equal(st.fw_version_requests, 1);
	assert_int_equal(st.frames_answered, 1);
	assert_int_equal(st.bytes_in, 6);
	assert_int_equal(l->dec.stats.noise_bytes, 0);
	link_close(l);
	vesc_sim_stop(sim);
}

static void healthy_2_18(void **state)
{
	(void)state;
	check_version(2, 18, 3);
}

static void healthy_3_40(void **state)
{
	(void)state;
	check_version(3, 40, 3 + 3 + 12);
}

static void healthy_5_02(void **state)
{
	(void)state;
	check_version(5, 2, 18 + 1 + 1 + 2);
}

static void healthy_6_05(void **state)
{
	(void)state;
	check_version(6, 5, 22 + 3 + 1 + 7 + 4);
}

static struct vesc_sim *start_behaviour(enum vesc_sim_behaviour b)
{
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.behaviour = b;
	cfg.reply_delay_ms = 600;
	cfg.period_ms = 50;
	return start(&cfg);
}

static void silent(void **state)
{
	(void)state;
	struct vesc_sim *sim = start_behaviour(VESC_SIM_SILENT);
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	send_fw_version(l);
	read_for(l, 200, 1);
	assert_int_equal(l->raw_len, 0);
	struct vesc_sim_stats st;
	vesc_sim_get_stats(sim, &st);
	assert_int_equal(st.bytes_in, 6);
	assert_int_equal(st.requests, 0);
	link_close(l);
	vesc_sim_stop(sim);
}

static void noise(void **state)
{
	(void)state;
	struct vesc_sim *sim = start_behaviour(VESC_SIM_NOISE);
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	send_fw_version(l);
	read_for(l, 200, 1);
	vesc_decoder_finish(&l->dec);
	take_frames(l);
	assert_true(l->raw_len >= 48);
	assert_int_equal(l->n_frames, 0);
	assert_int_equal(l->dec.stats.noise_bytes, l->raw_len);
	assert_false(vesc_decoder_looks_like_text(&l->dec));
	link_close(l);
	vesc_sim_stop(sim);
}

static void slow(void **state)
{
	(void)state;
	struct vesc_sim *sim = start_behaviour(VESC_SIM_SLOW);
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	uint64_t t0 = mono_ms();
	send_fw_version(l);
	read_for(l, 250, 1);
	assert_int_equal(l->raw_len, 0);
	read_for(l, 1000, 1);
	assert_int_equal(l->n_frames, 1);
	assert_true(mono_ms() - t0 >= 590);
	link_close(l);
	vesc_sim_stop(sim);
}

static void partial_then_silence(void **state)
{
	(void)state;
	struct vesc_sim *sim = start_behaviour(VESC_SIM_PARTIAL);
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	send_fw_version(l);
	read_for(l, 200, 1);
	assert_true(l->raw_len > 0);
	assert_int_equal(l->n_frames, 0);
	assert_true(vesc_decoder_pending(&l->dec) > 0);
	size_t first = l->raw_len;
	send_fw_version(l);
	read_for(l, 200, 1);
	assert_int_equal(l->raw_len, first);
	link_close(l);
	vesc_sim_stop(sim);
}

static void wrong_baud(void **state)
{
	(void)state;
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.behaviour = VESC_SIM_WRONG_BAUD;
	cfg.baud = 115200;
	struct vesc_sim *sim = start(&cfg);
	struct link *l = link_open(vesc_sim_port(sim), B9600);
	send_fw_version(l);
	read_for(l, 200, 1);
	vesc_decoder_finish(&l->dec);
	take_frames(l);
	assert_true(l->raw_len > 0);
	assert_int_equal(l->n_frames, 0);
	/* the right rate: an answer */
	struct termios t;
	assert_int_equal(tcgetattr(l->fd, &t), 0);
	cfsetspeed(&t, B115200);
	assert_int_equal(tcsetattr(l->fd, TCSANOW, &t), 0);
	send_fw_version(l);
	read_for(l, 1000, 1);
	assert_int_equal(l->n_frames, 1);
	assert_int_equal(l->payload[0][0], VESC_COMM_FW_VERSION);
	link_close(l);
	vesc_sim_stop(sim);
}

/* The sim has taken n bytes (so it judged them at the rate in force). */
static void wait_bytes_in(struct vesc_sim *sim, unsigned long n)
{
	uint64_t end = mono_ms() + 2000;
	struct vesc_sim_stats st;
	do {
		vesc_sim_get_stats(sim, &st);
		if (st.bytes_in >= n)
			return;
		sleep_ms(2);
	} while (mono_ms() < end);
	fail_msg("the simulated VESC took %lu of %lu bytes", st.bytes_in, n);
}

/* Garbage at the wrong rate can leave a stale partial frame in a 6.05
 * decoder: the first request at the right rate may then go unanswered,
 * and the flush always brings the answer. */
static void wrong_baud_garbage_needs_flush(void **state)
{
	(void)state;
	unsigned blocked = 0;
	for (uint32_t seed = 1; seed <= 4; seed++) {
		struct vesc_sim_config cfg;
		vesc_sim_config_defaults(&cfg);
		cfg.behaviour = VESC_SIM_WRONG_BAUD;
		cfg.garble_decoder = true;
		cfg.seed = seed;
		struct vesc_sim *sim = start(&cfg);
		struct link *l = link_open(vesc_sim_port(sim), B9600);
		/* a host probing at 9600: flush and request, several times */
		size_t n = 0;
		const uint8_t *zeros = vesc_flush_bytes(&n);
		for (int i = 0; i < 3; i++) {
			write_all(l->fd, zeros, 40);
			send_fw_version(l);
		}
		read_for(l, 50, 1);
		wait_bytes_in(sim, 3 * (40 + VESC_FW_VERSION_FRAME_LEN));
		struct termios t;
		assert_int_equal(tcgetattr(l->fd, &t), 0);
		cfsetspeed(&t, B115200);
		assert_int_equal(tcsetattr(l->fd, TCSANOW, &t), 0);
		send_fw_version(l);
		read_for(l, 150, 1);
		blocked += l->n_frames == 0;
		write_all(l->fd, zeros, n);
		send_fw_version(l);
		read_for(l, 1000, 1);
		assert_true(l->n_frames >= 1);
		assert_int_equal(l->payload[l->n_frames - 1][0], VESC_COMM_FW_VERSION);
		link_close(l);
		vesc_sim_stop(sim);
	}
	/* the seeds are fixed and the garbage depends only on them */
	assert_true(blocked >= 1);
}

static void disconnect_mid_reply(void **state)
{
	(void)state;
	struct vesc_sim *sim = start_behaviour(VESC_SIM_DISCONNECT);
	char port[64];
	snprintf(port, sizeof port, "%s", vesc_sim_port(sim));
	struct link *l = link_open(port, B115200);
	send_fw_version(l);
	read_for(l, 1000, 1);
	assert_true(l->hup);
	assert_int_equal(l->n_frames, 0);
	assert_true(l->raw_len > 0);
	struct vesc_sim_stats st;
	vesc_sim_get_stats(sim, &st);
	assert_true(st.gone);
	/* the port went away */
	int fd = open(port, O_RDWR | O_NOCTTY);
	assert_true(fd < 0);
	link_close(l);
	vesc_sim_stop(sim);
}

static void echo(void **state)
{
	(void)state;
	struct vesc_sim *sim = start_behaviour(VESC_SIM_ECHO);
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	send_fw_version(l);
	read_for(l, 1000, 1);
	uint8_t req[VESC_FW_VERSION_FRAME_LEN];
	vesc_fw_version_frame(req);
	assert_int_equal(l->raw_len, sizeof req);
	assert_memory_equal(l->raw, req, sizeof req);
	/* it decodes as a frame, but it is our request, not a version */
	assert_int_equal(l->n_frames, 1);
	struct fw_version fw;
	assert_int_equal(vesc_fw_version_parse(l->payload[0], l->len[0], &fw, NULL), VR_ERR_INPUT);
	link_close(l);
	vesc_sim_stop(sim);
}

static void nmea(void **state)
{
	(void)state;
	struct vesc_sim *sim = start_behaviour(VESC_SIM_NMEA);
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	send_fw_version(l);
	read_for(l, 300, 1);
	vesc_decoder_finish(&l->dec);
	take_frames(l);
	assert_int_equal(l->n_frames, 0);
	assert_true(l->raw_len > 60);
	assert_true(vesc_decoder_looks_like_text(&l->dec));
	assert_memory_equal(l->raw, "$GPGGA,", 7);
	struct vesc_sim_stats st;
	vesc_sim_get_stats(sim, &st);
	assert_int_equal(st.requests, 0);
	link_close(l);
	vesc_sim_stop(sim);
}

static void noisy_link(void **state)
{
	(void)state;
	struct vesc_sim *sim = start_behaviour(VESC_SIM_NOISY_LINK);
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	send_fw_version(l);
	read_for(l, 300, 2);
	vesc_decoder_finish(&l->dec);
	take_frames(l);
	assert_int_equal(l->n_frames, 1);
	assert_true(l->dec.stats.noise_bytes > 0);
	struct fw_version fw;
	assert_int_equal(vesc_fw_version_parse(l->payload[0], l->len[0], &fw, NULL), VR_OK);
	assert_int_equal(fw.major, 6);
	link_close(l);
	vesc_sim_stop(sim);
}

/* ---- the firmware decoder's timeouts ---- */

static const uint8_t stale[] = {0x02, 0x40, 0x00, 0x00};   /* announces 64 bytes */

static void stale_partial_blocks_until_flushed_6_05(void **state)
{
	(void)state;
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	struct vesc_sim *sim = start(&cfg);
	/* one program leaves half a frame behind and goes */
	int fd = open_raw(vesc_sim_port(sim), B115200);
	assert_true(fd >= 0);
	write_all(fd, stale, sizeof stale);
	sleep_ms(30);
	close(fd);
	/* the next one is not answered, however long it waits */
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	send_fw_version(l);
	read_for(l, 250, 1);
	assert_int_equal(l->raw_len, 0);
	/* the flush releases it */
	size_t n = 0;
	const uint8_t *zeros = vesc_flush_bytes(&n);
	write_all(l->fd, zeros, n);
	send_fw_version(l);
	read_for(l, 1000, 1);
	assert_true(l->n_frames >= 1);
	assert_int_equal(l->payload[0][0], VESC_COMM_FW_VERSION);
	link_close(l);
	vesc_sim_stop(sim);
}

static void stale_partial_times_out_5_02(void **state)
{
	(void)state;
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.fw_major = 5;
	cfg.fw_minor = 2;
	struct vesc_sim *sim = start(&cfg);
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	write_all(l->fd, stale, sizeof stale);
	send_fw_version(l);
	read_for(l, 200, 1);
	assert_int_equal(l->raw_len, 0);
	/* more than 1 s idle resets the decoder */
	sleep_ms(1100);
	send_fw_version(l);
	read_for(l, 1000, 1);
	assert_int_equal(l->n_frames, 1);
	link_close(l);
	vesc_sim_stop(sim);
}

static void state_machine_2_18(void **state)
{
	(void)state;
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.fw_major = 2;
	cfg.fw_minor = 18;
	struct vesc_sim *sim = start(&cfg);
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	/* a request right behind a stale header is swallowed by it: the old
	 * decoder does not rescan */
	uint8_t buf[16];
	memcpy(buf, stale, 2);
	vesc_fw_version_frame(buf + 2);
	write_all(l->fd, buf, 8);
	read_for(l, 150, 1);
	assert_int_equal(l->raw_len, 0);
	/* 2 ms of silence reset it */
	sleep_ms(20);
	send_fw_version(l);
	read_for(l, 1000, 1);
	assert_int_equal(l->n_frames, 1);
	assert_int_equal(l->len[0], 3);
	link_close(l);
	vesc_sim_stop(sim);
}

static void old_length_bug_frame_dropped(void **state)
{
	(void)state;
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.fw_major = 3;
	cfg.fw_minor = 40;
	cfg.old_length_bug = true;
	struct vesc_sim *sim = start(&cfg);
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	send_fw_version(l);
	read_for(l, 1000, 1);
	assert_int_equal(l->n_frames, 1);
	assert_int_equal(l->dec.stats.bug_frames, 1);
	assert_int_equal(l->raw[0], 0x02);
	assert_int_equal(l->raw[1], 0x00);
	assert_int_equal(l->payload[0][0], VESC_COMM_FW_VERSION);
	link_close(l);
	vesc_sim_stop(sim);
}

/* ---- the USB update path on a flash model ---- */

struct test_flash {
	uint8_t *bytes;
	pthread_mutex_t mutex;
	unsigned locks, unlocks;
	int jumps;
};

static uint8_t *tf_flash(void *ctx)
{
	return ((struct test_flash *)ctx)->bytes;
}

static void tf_lock(void *ctx)
{
	struct test_flash *tf = ctx;
	pthread_mutex_lock(&tf->mutex);
	tf->locks++;
}

static void tf_unlock(void *ctx)
{
	struct test_flash *tf = ctx;
	tf->unlocks++;
	pthread_mutex_unlock(&tf->mutex);
}

/* The flash as the test sees it: a copy taken through the sim, under the
 * hooks' lock. */
static uint8_t *peek(struct vesc_sim *sim, uint32_t offset, size_t n)
{
	static uint8_t copy[512 * 1024];
	assert_true(n <= sizeof copy);
	assert_int_equal(vesc_sim_read_flash(sim, VESC_SIM_FLASH_BASE + offset, copy, n, NULL), VR_OK);
	return copy;
}

static void tf_jump(void *ctx)
{
	((struct test_flash *)ctx)->jumps++;
}

static struct vesc_sim *start_with_flash(int major, int minor, struct test_flash *tf,
					 struct vesc_sim_flash *hooks)
{
	tf->bytes = malloc(VESC_SIM_FLASH_SIZE);
	assert_non_null(tf->bytes);
	pthread_mutex_init(&tf->mutex, NULL);
	memset(tf->bytes, 0x11, VESC_SIM_FLASH_SIZE);   /* "something" everywhere */
	*hooks = (struct vesc_sim_flash){tf, tf_flash, tf_lock, tf_unlock};
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.fw_major = major;
	cfg.fw_minor = minor;
	cfg.flash = hooks;
	cfg.on_jump = tf_jump;
	cfg.on_jump_ctx = tf;
	return start(&cfg);
}

static bool all_equal(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void request(struct link *l, const uint8_t *pl, size_t n)
{
	unsigned before = l->n_frames;
	send_payload(l, pl, n);
	read_for(l, 1000, before + 1);
	assert_int_equal(l->n_frames, before + 1);
}

static void usb_bootloader_path_6_05(void **state)
{
	(void)state;
	struct test_flash tf = {0};
	struct vesc_sim_flash hooks;
	struct vesc_sim *sim = start_with_flash(6, 5, &tf, &hooks);
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	const uint32_t sector11 = 0x080E0000u - VESC_SIM_FLASH_BASE;

	uint8_t pl[600];
	request(l, pl, vesc_build_erase_bootloader(pl, sizeof pl));
	bool ok = false;
	assert_int_equal(vesc_parse_ok_reply(l->payload[0], l->len[0], 73, &ok, NULL), VR_OK);
	assert_true(ok);
	assert_true(all_equal(peek(sim, sector11, 128 * 1024), 128 * 1024, 0xFF));
	assert_int_equal(peek(sim, sector11 - 1, 1)[0], 0x11);   /* sector 10 untouched */

	uint8_t chunk[VESC_WRITE_CHUNK];
	for (unsigned c = 0; c < 2; c++) {
		for (size_t i = 0; i < sizeof chunk; i++)
			chunk[i] = (uint8_t)(i + c * 7);
		uint32_t offset = VESC_BOOTLOADER_OFFSET + c * VESC_WRITE_CHUNK;
		request(l, pl, vesc_build_write_new_app_data(pl, sizeof pl, offset, chunk, sizeof chunk));
		struct vesc_write_reply w;
		assert_int_equal(vesc_parse_write_reply(l->payload[l->n_frames - 1],
							l->len[l->n_frames - 1], &w, NULL), VR_OK);
		assert_true(w.ok);
		assert_true(w.has_offset);
		assert_int_equal(w.offset, offset);
		assert_memory_equal(peek(sim, sector11 + c * VESC_WRITE_CHUNK, sizeof chunk), chunk,
				    sizeof chunk);
	}
	/* programming only clears bits: over 0x11 the result is the AND */
	const uint8_t over[4] = {0xFF, 0xF0, 0x0F, 0x00};
	const uint32_t staging = 0x08080000u - VESC_SIM_FLASH_BASE;
	request(l, pl, vesc_build_write_new_app_data(pl, sizeof pl, 0, over, 4));
	const uint8_t anded[4] = {0x11, 0x10, 0x01, 0x00};
	assert_memory_equal(peek(sim, staging, 4), anded, 4);

	/* ERASE_NEW_APP: a 6.x image erases 8..10; a 128K+1 one only 8 and 9 */
	request(l, pl, vesc_build_erase_new_app(pl, sizeof pl, 0x20001));
	assert_int_equal(vesc_parse_ok_reply(l->payload[l->n_frames - 1], 2, 2, &ok, NULL), VR_OK);
	assert_true(ok);
	assert_true(all_equal(peek(sim, staging, 256 * 1024), 256 * 1024, 0xFF));
	assert_int_equal(peek(sim, staging + 256 * 1024, 1)[0], 0x11);
	request(l, pl, vesc_build_erase_new_app(pl, sizeof pl, 524280));
	assert_true(all_equal(peek(sim, staging, 384 * 1024), 384 * 1024, 0xFF));
	/* the bootloader written above stays */
	assert_int_equal(peek(sim, sector11 + 1, 1)[0], 1);

	/* past the end of flash: refused */
	request(l, pl, vesc_build_write_new_app_data(pl, sizeof pl, 0x80000, over, 4));
	struct vesc_write_reply w;
	assert_int_equal(vesc_parse_write_reply(l->payload[l->n_frames - 1],
						l->len[l->n_frames - 1], &w, NULL), VR_OK);
	assert_false(w.ok);

	/* the jump: no reply, the port goes away */
	send_payload(l, pl, vesc_build_jump_to_bootloader(pl, sizeof pl));
	read_for(l, 1000, l->n_frames + 1);
	assert_true(l->hup);
	struct vesc_sim_stats st;
	vesc_sim_get_stats(sim, &st);
	assert_true(st.jumped);
	assert_true(st.gone);
	link_close(l);
	vesc_sim_stop(sim);
	/* joined: the counters are ours now */
	assert_int_equal(tf.jumps, 1);
	assert_true(tf.locks > 0);
	assert_int_equal(tf.locks, tf.unlocks);
	pthread_mutex_destroy(&tf.mutex);
	free(tf.bytes);
}

static void usb_write_replies_3_40(void **state)
{
	(void)state;
	struct test_flash tf = {0};
	struct vesc_sim_flash hooks;
	struct vesc_sim *sim = start_with_flash(3, 40, &tf, &hooks);
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	uint8_t pl[600];
	const uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	request(l, pl, vesc_build_write_new_app_data(pl, sizeof pl, VESC_BOOTLOADER_OFFSET, data, 8));
	assert_int_equal(l->len[0], 2);
	struct vesc_write_reply w;
	assert_int_equal(vesc_parse_write_reply(l->payload[0], l->len[0], &w, NULL), VR_OK);
	assert_true(w.ok);
	assert_false(w.has_offset);
	const uint8_t anded[8] = {1, 0, 1, 0, 1, 0, 1, 0};
	assert_memory_equal(peek(sim, 0xE0000, 8), anded, 8);
	/* 3.40 has no COMM_ERASE_BOOTLOADER: ignored, sector 11 untouched */
	send_payload(l, pl, vesc_build_erase_bootloader(pl, sizeof pl));
	read_for(l, 200, 2);
	assert_int_equal(l->n_frames, 1);
	assert_int_equal(peek(sim, 0xE0000 + 100, 1)[0], 0x11);
	link_close(l);
	vesc_sim_stop(sim);
	pthread_mutex_destroy(&tf.mutex);
	free(tf.bytes);
}

/* The firmware's 512-byte payload limit (reference §1.3): a 512-byte
 * WRITE_NEW_APP_DATA is answered, a 513-byte one is noise to it. */
static void payload_limit_512(void **state)
{
	(void)state;
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	struct vesc_sim *sim = start(&cfg);
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	static uint8_t data[600], pl[600];
	memset(data, 0x55, sizeof data);
	size_t n = vesc_build_write_new_app_data(pl, sizeof pl, 0x100, data, VESC_WRITE_MAX_DATA);
	assert_int_equal(n, 512);
	request(l, pl, n);
	struct vesc_write_reply w;
	assert_int_equal(vesc_parse_write_reply(l->payload[0], l->len[0], &w, NULL), VR_OK);
	assert_true(w.ok);
	assert_int_equal(w.offset, 0x100);
	assert_int_equal(peek(sim, 0x80100, 1)[0], 0x55);
	/* one byte more: built by hand, the builder refuses it */
	pl[0] = VESC_COMM_WRITE_NEW_APP_DATA;
	vesc_put_u32(pl + 1, 0x1000);
	memcpy(pl + 5, data, 508);
	send_payload(l, pl, 513);
	read_for(l, 200, 2);
	assert_int_equal(l->n_frames, 1);
	assert_int_equal(peek(sim, 0x81000, 1)[0], 0xFF);
	link_close(l);
	vesc_sim_stop(sim);
}

static void erase_takes_time(void **state)
{
	(void)state;
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.erase_ms_per_sector = 100;
	struct vesc_sim *sim = start(&cfg);
	struct link *l = link_open(vesc_sim_port(sim), B115200);
	uint8_t pl[8];
	uint64_t t0 = mono_ms();
	request(l, pl, vesc_build_erase_new_app(pl, sizeof pl, 524280));
	assert_true(mono_ms() - t0 >= 290);
	bool ok = false;
	assert_int_equal(vesc_parse_ok_reply(l->payload[0], l->len[0], 2, &ok, NULL), VR_OK);
	assert_true(ok);
	struct vesc_sim_stats st;
	vesc_sim_get_stats(sim, &st);
	assert_int_equal(st.sector_erases, 3);
	link_close(l);
	vesc_sim_stop(sim);
}

static void private_flash_and_restart(void **state)
{
	(void)state;
	for (int i = 0; i < 10; i++) {
		struct vesc_sim_config cfg;
		vesc_sim_config_defaults(&cfg);
		cfg.behaviour = (enum vesc_sim_behaviour)(i % VESC_SIM_BEHAVIOUR_COUNT_);
		struct vesc_sim *sim = start(&cfg);
		if (i % 2) {
			int fd = open_raw(vesc_sim_port(sim), B115200);
			assert_true(fd >= 0);
			uint8_t req[VESC_FW_VERSION_FRAME_LEN];
			vesc_fw_version_frame(req);
			write_all(fd, req, sizeof req);
			close(fd);
		}
		uint8_t b[16];
		assert_int_equal(vesc_sim_read_flash(sim, 0x080E0000u, b, sizeof b, NULL), VR_OK);
		assert_true(all_equal(b, sizeof b, 0xFF));
		struct vr_error err;
		assert_int_equal(vesc_sim_read_flash(sim, 0x080FFFF8u, b, 16, &err), VR_ERR_INTERNAL);
		vesc_sim_stop(sim);
	}
	vesc_sim_stop(NULL);
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.behaviour = VESC_SIM_BEHAVIOUR_COUNT_;
	struct vesc_sim *sim = NULL;
	struct vr_error err;
	assert_int_equal(vesc_sim_start(&cfg, &sim, &err), VR_ERR_USAGE);
	assert_null(sim);
	assert_string_equal(vesc_sim_behaviour_name(VESC_SIM_NMEA), "nmea");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(healthy_2_18),
		cmocka_unit_test(healthy_3_40),
		cmocka_unit_test(healthy_5_02),
		cmocka_unit_test(healthy_6_05),
		cmocka_unit_test(silent),
		cmocka_unit_test(noise),
		cmocka_unit_test(slow),
		cmocka_unit_test(partial_then_silence),
		cmocka_unit_test(wrong_baud),
		cmocka_unit_test(wrong_baud_garbage_needs_flush),
		cmocka_unit_test(disconnect_mid_reply),
		cmocka_unit_test(echo),
		cmocka_unit_test(nmea),
		cmocka_unit_test(noisy_link),
		cmocka_unit_test(stale_partial_blocks_until_flushed_6_05),
		cmocka_unit_test(stale_partial_times_out_5_02),
		cmocka_unit_test(state_machine_2_18),
		cmocka_unit_test(old_length_bug_frame_dropped),
		cmocka_unit_test(usb_bootloader_path_6_05),
		cmocka_unit_test(usb_write_replies_3_40),
		cmocka_unit_test(payload_limit_512),
		cmocka_unit_test(erase_takes_time),
		cmocka_unit_test(private_flash_and_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
