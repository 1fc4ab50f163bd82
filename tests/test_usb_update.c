/* The bootloader install over USB, end to end through real ptys: the
 * simulated VESC (its own firmware decoder and flash model) for the
 * protocol as each generation speaks it, and a small peer of our own for
 * what the simulator does not do (refuse the erase, echo a wrong offset,
 * drop or delay a reply, vanish after N chunks). */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <cmocka.h>

#include "bench/vesc_sim.h"
#include "probes/serial_io.h"
#include "usb_update.h"
#include "vesc_proto.h"

#define BL_ADDR 0x080E0000u
#define SECTOR 0x20000u
#define IMAGE_LEN 5280u         /* generic.bin: 13 full chunks and one of 288 */
#define BLANK_CHUNK 2u          /* this chunk of the test image is all 0xFF */
#define N_CHUNKS 14u

/* ---- the test image ------------------------------------------------------- */

static uint8_t *make_image(size_t len)
{
	uint8_t *img = malloc(len);
	assert_non_null(img);
	uint32_t x = 0x12345678u;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		img[i] = (uint8_t)(x >> 16);
	}
	if (len >= (BLANK_CHUNK + 1) * VESC_WRITE_CHUNK)
		memset(img + BLANK_CHUNK * VESC_WRITE_CHUNK, 0xFF, VESC_WRITE_CHUNK);
	return img;
}

/* ---- hooks that record --------------------------------------------------------- */

struct recorder {
	volatile sig_atomic_t cancel;
	uint64_t cancel_at;         /* set cancel once this many bytes are done (0 never) */
	const char *cancel_on_log;  /* set cancel when a log line contains this */
	unsigned progress_calls, erase_reports;
	uint64_t last_done, last_total;
	bool went_back;             /* done ever decreased */
	bool erase_cancellable;     /* an erase report claimed it could be cancelled */
	char log[8192];
};

static void rec_log(void *ctx, const char *line)
{
	struct recorder *r = ctx;
	size_t used = strlen(r->log);
	snprintf(r->log + used, sizeof r->log - used, "%s\n", line);
	if (r->cancel_on_log && strstr(line, r->cancel_on_log))
		r->cancel = 1;
}

static void rec_progress(void *ctx, const struct engine_progress *p)
{
	struct recorder *r = ctx;
	r->progress_calls++;
	if (p->total == 0) {
		r->erase_reports++;
		r->erase_cancellable |= p->cancellable;
		return;
	}
	if (p->done < r->last_done)
		r->went_back = true;
	r->last_done = p->done;
	r->last_total = p->total;
	if (r->cancel_at && p->done >= r->cancel_at)
		r->cancel = 1;
}

static struct run_hooks hooks_for(struct recorder *r)
{
	memset(r, 0, sizeof *r);
	struct run_hooks h = {.ctx = r, .log = rec_log, .progress = rec_progress, .cancel = &r->cancel};
	return h;
}

/* ---- the simulated VESC with a flash we can pre-fill ------------------------------ */

struct test_flash {
	uint8_t *bytes;
	pthread_mutex_t lock;
	struct vesc_sim_flash iface;
};

static uint8_t *tf_bytes(void *ctx)
{
	return ((struct test_flash *)ctx)->bytes;
}

static void tf_lock(void *ctx)
{
	pthread_mutex_lock(&((struct test_flash *)ctx)->lock);
}

static void tf_unlock(void *ctx)
{
	pthread_mutex_unlock(&((struct test_flash *)ctx)->lock);
}

/* Sector 11 holds an old bootloader's worth of non-0xFF bytes: only an
 * erase gets the install to come out byte-exact. */
static struct test_flash *flash_new(bool old_bootloader)
{
	struct test_flash *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->bytes = malloc(VESC_SIM_FLASH_SIZE);
	assert_non_null(f->bytes);
	memset(f->bytes, 0xFF, VESC_SIM_FLASH_SIZE);
	if (old_bootloader)
		memset(f->bytes + (BL_ADDR - VESC_SIM_FLASH_BASE), 0x5A, 8000);
	pthread_mutex_init(&f->lock, NULL);
	f->iface = (struct vesc_sim_flash){.ctx = f, .flash = tf_bytes, .lock = tf_lock,
					   .unlock = tf_unlock};
	return f;
}

static void flash_free(struct test_flash *f)
{
	pthread_mutex_destroy(&f->lock);
	free(f->bytes);
	free(f);
}

static struct vesc_sim *sim_start(int major, int minor, enum vesc_sim_behaviour b,
				  struct test_flash *flash)
{
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.fw_major = major;
	cfg.fw_minor = minor;
	cfg.behaviour = b;
	cfg.flash = flash ? &flash->iface : NULL;
	struct vesc_sim *sim = NULL;
	struct vr_error err;
	assert_int_equal(vesc_sim_start(&cfg, &sim, &err), VR_OK);
	return sim;
}

/* What the caller does first: ask who is there. */
static struct fw_version who(const char *port)
{
	struct fw_version fw;
	struct vr_error err = {0};
	vr_err rc = usb_read_fw_version(port, 1000, &fw, &err);
	if (rc != VR_OK)
		fail_msg("usb_read_fw_version: %s", err.msg);
	return fw;
}

static void expect_sector_holds(struct vesc_sim *sim, const uint8_t *img, size_t len)
{
	uint8_t *sector = malloc(SECTOR);
	assert_non_null(sector);
	struct vr_error err;
	assert_int_equal(vesc_sim_read_flash(sim, BL_ADDR, sector, SECTOR, &err), VR_OK);
	assert_memory_equal(sector, img, len);
	for (size_t i = len; i < SECTOR; i++)
		if (sector[i] != 0xFF)
			fail_msg("sector 11 byte 0x%zx is 0x%02x, not blank", i, sector[i]);
	free(sector);
}

static void expect_msg(const struct vr_error *err, const char *part)
{
	if (!strstr(err->msg, part))
		fail_msg("message lacks \"%s\": %s", part, err->msg);
}

/* ---- installs on the simulated VESC, per reply generation ------------------------- */

static void install_on(int major, int minor)
{
	struct test_flash *flash = flash_new(true);
	struct vesc_sim *sim = sim_start(major, minor, VESC_SIM_HEALTHY, flash);
	uint8_t *img = make_image(IMAGE_LEN);
	struct fw_version fw = who(vesc_sim_port(sim));
	assert_int_equal(fw.major, major);
	struct recorder rec = {0};
	struct run_hooks h = hooks_for(&rec);
	struct vr_error err = {0};
	long long t0 = serial_io_now_ms();
	vr_err rc = usb_install_bootloader(vesc_sim_port(sim), &fw, img, IMAGE_LEN, NULL, &h, &err);
	if (rc != VR_OK)
		fail_msg("install on %d.%02d: %s", major, minor, err.msg);
	assert_true(serial_io_now_ms() - t0 < 1500);
	expect_sector_holds(sim, img, IMAGE_LEN);
	struct vesc_sim_stats st;
	vesc_sim_get_stats(sim, &st);
	assert_int_equal(st.sector_erases, 1);
	assert_int_equal(st.writes, N_CHUNKS - 1);      /* the blank chunk was skipped */
	assert_int_equal(st.write_failures, 0);
	assert_int_equal(rec.last_done, IMAGE_LEN);
	assert_int_equal(rec.last_total, IMAGE_LEN);
	assert_false(rec.went_back);
	assert_true(rec.erase_reports >= 1);
	assert_false(rec.erase_cancellable);
	assert_non_null(strstr(rec.log, "13 chunks written, 1 blank skipped"));
	vesc_sim_stop(sim);
	flash_free(flash);
	free(img);
}

static void install_6_05_offset_echo(void **state)
{
	(void)state;
	install_on(6, 5);
}

static void install_5_02_offset_echo(void **state)
{
	(void)state;
	install_on(5, 2);
}

static void install_4_10_two_byte_replies(void **state)
{
	(void)state;
	install_on(4, 10);
}

static void install_3_59_two_byte_replies(void **state)
{
	(void)state;
	install_on(3, 59);
}

/* A slow erase (1.5 s, as a real sector may take with the motor wait) is
 * waited for, not mistaken for a dead link. */
static void install_waits_for_slow_erase(void **state)
{
	(void)state;
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.erase_ms_per_sector = 1200;
	struct vesc_sim *sim = NULL;
	struct vr_error err = {0};
	assert_int_equal(vesc_sim_start(&cfg, &sim, &err), VR_OK);
	uint8_t *img = make_image(1000);
	struct fw_version fw = who(vesc_sim_port(sim));
	struct usb_install_opts o = {.chunk_timeout_ms = 300};
	vr_err rc = usb_install_bootloader(vesc_sim_port(sim), &fw, img, 1000, &o, NULL, &err);
	if (rc != VR_OK)
		fail_msg("%s", err.msg);
	expect_sector_holds(sim, img, 1000);
	vesc_sim_stop(sim);
	free(img);
}

/* ---- refusals before anything is sent ---------------------------------------------- */

static void old_fw_refused_without_force(void **state)
{
	(void)state;
	struct test_flash *flash = flash_new(true);
	struct vesc_sim *sim = sim_start(3, 40, VESC_SIM_HEALTHY, flash);
	uint8_t *img = make_image(IMAGE_LEN);
	struct fw_version fw = who(vesc_sim_port(sim));
	struct vesc_sim_stats before, after;
	vesc_sim_get_stats(sim, &before);
	struct vr_error err = {0};
	assert_int_equal(usb_install_bootloader(vesc_sim_port(sim), &fw, img, IMAGE_LEN, NULL, NULL,
						&err), VR_ERR_CONFIRM);
	expect_msg(&err, "3.40");
	expect_msg(&err, "3.59");
	vesc_sim_get_stats(sim, &after);
	assert_int_equal(after.bytes_in, before.bytes_in);   /* not even opened */
	assert_int_equal(flash->bytes[BL_ADDR - VESC_SIM_FLASH_BASE], 0x5A);
	vesc_sim_stop(sim);
	flash_free(flash);
	free(img);
}

/* With force on FW < 3.59 there is no erase, so no chunk may be skipped:
 * the blank chunk is written too. */
static void old_fw_forced_writes_every_chunk(void **state)
{
	(void)state;
	struct vesc_sim *sim = sim_start(3, 40, VESC_SIM_HEALTHY, NULL);
	uint8_t *img = make_image(IMAGE_LEN);
	struct fw_version fw = who(vesc_sim_port(sim));
	struct usb_install_opts o = {.force = true};
	struct recorder rec = {0};
	struct run_hooks h = hooks_for(&rec);
	struct vr_error err = {0};
	vr_err rc = usb_install_bootloader(vesc_sim_port(sim), &fw, img, IMAGE_LEN, &o, &h, &err);
	if (rc != VR_OK)
		fail_msg("%s", err.msg);
	expect_sector_holds(sim, img, IMAGE_LEN);
	struct vesc_sim_stats st;
	vesc_sim_get_stats(sim, &st);
	assert_int_equal(st.sector_erases, 0);
	assert_int_equal(st.writes, N_CHUNKS);
	assert_int_equal(rec.erase_reports, 0);
	vesc_sim_stop(sim);
	free(img);
}

static void bad_sizes_refused(void **state)
{
	(void)state;
	struct fw_version fw;
	vesc_fw_version_clear(&fw);
	fw.major = 6;
	fw.minor = 5;
	size_t big = USB_BOOTLOADER_MAX_LEN + 1;
	uint8_t *img = calloc(1, big);
	assert_non_null(img);
	struct vr_error err = {0};
	/* The port does not exist: a refusal must come before any open. */
	assert_int_equal(usb_install_bootloader("/nonexistent/tty", &fw, img, big, NULL, NULL, &err),
			 VR_ERR_INPUT);
	expect_msg(&err, "131073 bytes");
	assert_int_equal(usb_install_bootloader("/nonexistent/tty", &fw, img, 0, NULL, NULL, &err),
			 VR_ERR_INPUT);
	/* exactly the sector is fine as far as size goes: then the open fails */
	assert_int_equal(usb_install_bootloader("/nonexistent/tty", &fw, img, big - 1, NULL, NULL, &err),
			 VR_ERR_NO_DEVICE);
	free(img);
}

static void unknown_version_refused(void **state)
{
	(void)state;
	struct fw_version fw;
	vesc_fw_version_clear(&fw);
	uint8_t img[16] = {0};
	struct vr_error err = {0};
	assert_int_equal(usb_install_bootloader("/nonexistent/tty", &fw, img, sizeof img, NULL, NULL,
						&err), VR_ERR_CONFIRM);
	assert_int_equal(usb_install_bootloader("/nonexistent/tty", NULL, img, sizeof img, NULL, NULL,
						&err), VR_ERR_CONFIRM);
}

/* The install was confirmed for one controller; another answers now. */
static void different_device_refused(void **state)
{
	(void)state;
	struct test_flash *flash = flash_new(true);
	struct vesc_sim *sim = sim_start(5, 3, VESC_SIM_HEALTHY, flash);
	struct fw_version fw = who(vesc_sim_port(sim));
	fw.minor = 2;
	uint8_t *img = make_image(IMAGE_LEN);
	struct vr_error err = {0};
	assert_int_equal(usb_install_bootloader(vesc_sim_port(sim), &fw, img, IMAGE_LEN, NULL, NULL,
						&err), VR_ERR_CONFIRM);
	expect_msg(&err, "5.03");
	expect_msg(&err, "nothing was changed");
	fw = who(vesc_sim_port(sim));
	fw.uuid[0] ^= 1;
	assert_int_equal(usb_install_bootloader(vesc_sim_port(sim), &fw, img, IMAGE_LEN, NULL, NULL,
						&err), VR_ERR_CONFIRM);
	struct vesc_sim_stats st;
	vesc_sim_get_stats(sim, &st);
	assert_int_equal(st.sector_erases, 0);
	assert_int_equal(st.writes, 0);
	assert_int_equal(flash->bytes[BL_ADDR - VESC_SIM_FLASH_BASE], 0x5A);
	vesc_sim_stop(sim);
	flash_free(flash);
	free(img);
}

/* ---- cancel ------------------------------------------------------------------------ */

static void cancel_between_chunks(void **state)
{
	(void)state;
	struct vesc_sim *sim = sim_start(6, 5, VESC_SIM_HEALTHY, NULL);
	uint8_t *img = make_image(IMAGE_LEN);
	struct fw_version fw = who(vesc_sim_port(sim));
	struct recorder rec = {0};
	struct run_hooks h = hooks_for(&rec);
	rec.cancel_at = 4 * VESC_WRITE_CHUNK;
	struct vr_error err = {0};
	assert_int_equal(usb_install_bootloader(vesc_sim_port(sim), &fw, img, IMAGE_LEN, NULL, &h,
						&err), VR_ERR_INTERRUPTED);
	expect_msg(&err, "cancelled after 1536 of 5280 bytes (3 chunks written)");
	expect_msg(&err, "half written");
	expect_msg(&err, "rerun");
	struct vesc_sim_stats st;
	vesc_sim_get_stats(sim, &st);
	assert_int_equal(st.writes, 3);
	uint8_t got[2 * VESC_WRITE_CHUNK];
	assert_int_equal(vesc_sim_read_flash(sim, BL_ADDR + 3 * VESC_WRITE_CHUNK, got, sizeof got, &err),
			 VR_OK);
	assert_memory_equal(got, img + 3 * VESC_WRITE_CHUNK, VESC_WRITE_CHUNK);
	for (size_t i = VESC_WRITE_CHUNK; i < sizeof got; i++)
		assert_int_equal(got[i], 0xFF);        /* chunk 4 never went out */
	vesc_sim_stop(sim);
	free(img);
}

static void cancel_before_start_sends_nothing(void **state)
{
	(void)state;
	struct vesc_sim *sim = sim_start(6, 5, VESC_SIM_HEALTHY, NULL);
	uint8_t *img = make_image(IMAGE_LEN);
	struct fw_version fw = who(vesc_sim_port(sim));
	struct vesc_sim_stats before, after;
	vesc_sim_get_stats(sim, &before);
	struct recorder rec = {0};
	struct run_hooks h = hooks_for(&rec);
	rec.cancel = 1;
	struct vr_error err = {0};
	assert_int_equal(usb_install_bootloader(vesc_sim_port(sim), &fw, img, IMAGE_LEN, NULL, &h,
						&err), VR_ERR_INTERRUPTED);
	expect_msg(&err, "nothing was changed");
	vesc_sim_get_stats(sim, &after);
	assert_int_equal(after.bytes_in, before.bytes_in);
	vesc_sim_stop(sim);
	free(img);
}

/* ---- the port going away ------------------------------------------------------------ */

/* The simulator's DISCONNECT: half of the first reply (to our identity
 * check), then the port is gone. Nothing was erased yet. */
static void sim_disconnect_before_erase(void **state)
{
	(void)state;
	struct vesc_sim *sim = sim_start(6, 5, VESC_SIM_DISCONNECT, NULL);
	struct fw_version fw;
	vesc_fw_version_clear(&fw);
	fw.major = 6;
	fw.minor = 5;
	uint8_t *img = make_image(IMAGE_LEN);
	struct vr_error err = {0};
	long long t0 = serial_io_now_ms();
	assert_int_equal(usb_install_bootloader(vesc_sim_port(sim), &fw, img, IMAGE_LEN, NULL, NULL,
						&err), VR_ERR_GONE);
	assert_true(serial_io_now_ms() - t0 < 1500);
	expect_msg(&err, "nothing was changed");
	struct vesc_sim_stats st;
	vesc_sim_get_stats(sim, &st);
	assert_true(st.gone);
	assert_int_equal(st.sector_erases, 0);
	vesc_sim_stop(sim);
	free(img);
}

/* ---- a peer of our own, for answers the simulator does not give -------------------- */

#define PEER_MAX_CHUNKS 64

struct peer {
	int master;
	char slave[64];
	pthread_t thread;
	atomic_bool stop;
	struct vesc_decoder dec;
	int major, minor;
	uint8_t erase_ok;            /* the byte [73][x] answers with */
	int wrong_echo_chunk;        /* echo offset + 0x180 for this chunk (-1 never) */
	int drop_first_of_chunk;     /* no reply to the first send of this chunk */
	int delay_first_of_chunk;    /* reply late (delay_ms) to the first send of this chunk */
	unsigned delay_ms;
	int refuse_chunk;            /* [3][0] for every send of this chunk */
	bool mute_writes;            /* never answers a write */
	bool stray_header;           /* "02 FF" line noise in front of the FW_VERSION reply */
	int vanish_after_writes;     /* close the master when a write comes after this many */
	atomic_uint erases, writes, fw_requests;
	atomic_uint sends[PEER_MAX_CHUNKS];
	uint8_t sector[SECTOR];
};

static void peer_reply(struct peer *pe, const uint8_t *payload, size_t len)
{
	uint8_t frame[600];
	size_t n = 0;
	assert_int_equal(vesc_encode(payload, len, frame, sizeof frame, &n, NULL), VR_OK);
	for (size_t off = 0; off < n;) {
		ssize_t w = write(pe->master, frame + off, n - off);
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

static void peer_fw_version(struct peer *pe)
{
	uint8_t b[32] = {VESC_COMM_FW_VERSION, (uint8_t)pe->major, (uint8_t)pe->minor, '6', '0', 0};
	size_t n = 6;
	memset(b + n, 0x11, 12);           /* uuid */
	n += 12;
	b[n++] = 0;                        /* pairing_done */
	if (pe->major >= 5)
		b[n++] = 0;                /* test_version */
	atomic_fetch_add(&pe->fw_requests, 1);
	static const uint8_t stray[] = {0x02, 0xFF};
	if (pe->stray_header && write(pe->master, stray, sizeof stray) != (ssize_t)sizeof stray)
		return;
	peer_reply(pe, b, n);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Returns false once the peer has vanished. */
static bool peer_write(struct peer *pe, const uint8_t *p, size_t len)
{
	/* Vanishing on the next request, not right after a reply: a hangup
	 * discards what the slave had not read yet. */
	if (pe->vanish_after_writes > 0 && atomic_load(&pe->writes) == (unsigned)pe->vanish_after_writes) {
		close(pe->master);
		pe->master = -1;
		return false;
	}
	uint32_t offset = vesc_get_u32(p + 1);
	size_t data = len - 5;
	int chunk = (int)((offset - VESC_BOOTLOADER_OFFSET) / VESC_WRITE_CHUNK);
	assert_true(chunk >= 0 && chunk < PEER_MAX_CHUNKS);
	unsigned nth = atomic_fetch_add(&pe->sends[chunk], 1) + 1;
	uint32_t at = offset - VESC_BOOTLOADER_OFFSET;
	assert_true(at + data <= SECTOR);
	for (size_t i = 0; i < data; i++)
		pe->sector[at + i] &= p[5 + i];
	if (pe->mute_writes || (chunk == pe->drop_first_of_chunk && nth == 1))
		return true;
	if (chunk == pe->delay_first_of_chunk && nth == 1)
		sleep_ms(pe->delay_ms);
	uint8_t b[6] = {VESC_COMM_WRITE_NEW_APP_DATA, chunk == pe->refuse_chunk ? 0 : 1};
	uint32_t echo = chunk == pe->wrong_echo_chunk ? offset + 0x180 : offset;
	vesc_put_u32(b + 2, echo);
	peer_reply(pe, b, pe->major >= 5 ? 6 : 2);
	atomic_fetch_add(&pe->writes, 1);
	return true;
}

static bool peer_handle(struct peer *pe, const uint8_t *p, size_t len)
{
	if (p[0] == VESC_COMM_FW_VERSION) {
		peer_fw_version(pe);
	} else if (p[0] == VESC_COMM_ERASE_BOOTLOADER) {
		atomic_fetch_add(&pe->erases, 1);
		if (pe->erase_ok)
			memset(pe->sector, 0xFF, sizeof pe->sector);
		uint8_t b[2] = {VESC_COMM_ERASE_BOOTLOADER, pe->erase_ok};
		peer_reply(pe, b, 2);
	} else if (p[0] == VESC_COMM_WRITE_NEW_APP_DATA && len > 5) {
		return peer_write(pe, p, len);
	}
	return true;
}

static void *peer_main(void *arg)
{
	struct peer *pe = arg;
	while (!atomic_load(&pe->stop) && pe->master >= 0) {
		struct pollfd p = {.fd = pe->master, .events = POLLIN};
		if (poll(&p, 1, 20) <= 0)
			continue;
		uint8_t buf[1024];
		ssize_t n = read(pe->master, buf, sizeof buf);
		if (n <= 0) {
			sleep_ms(5);   /* slave not open (EIO): wait for it */
			continue;
		}
		for (size_t off = 0; off < (size_t)n;) {
			off += vesc_decoder_feed(&pe->dec, buf + off, (size_t)n - off);
			const uint8_t *pl;
			size_t pl_len;
			while (vesc_decoder_next(&pe->dec, &pl, &pl_len))
				if (!peer_handle(pe, pl, pl_len))
					return NULL;
		}
	}
	return NULL;
}

static struct peer *peer_start(int major, int minor)
{
	struct peer *pe = calloc(1, sizeof *pe);
	assert_non_null(pe);
	pe->major = major;
	pe->minor = minor;
	pe->erase_ok = 1;
	pe->wrong_echo_chunk = pe->drop_first_of_chunk = pe->delay_first_of_chunk = -1;
	pe->refuse_chunk = -1;
	memset(pe->sector, 0x5A, sizeof pe->sector);   /* an old bootloader's sector */
	vesc_decoder_init(&pe->dec);
	pe->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(pe->master >= 0);
	assert_int_equal(grantpt(pe->master), 0);
	assert_int_equal(unlockpt(pe->master), 0);
	assert_int_equal(ptsname_r(pe->master, pe->slave, sizeof pe->slave), 0);
	return pe;
}

static void peer_run(struct peer *pe)
{
	assert_int_equal(pthread_create(&pe->thread, NULL, peer_main, pe), 0);
}

/* Joins the thread: afterwards sector and counters are final. */
static void peer_join(struct peer *pe)
{
	atomic_store(&pe->stop, true);
	pthread_join(pe->thread, NULL);
}

static void peer_free(struct peer *pe)
{
	if (pe->master >= 0)
		close(pe->master);
	free(pe);
}

static vr_err install_via_peer(struct peer *pe, const uint8_t *img, size_t len, unsigned chunk_ms,
			       struct recorder *rec, struct vr_error *err)
{
	const char *cancel_on_log = rec->cancel_on_log;
	peer_run(pe);
	struct fw_version fw;
	vesc_fw_version_clear(&fw);
	vr_err rc = usb_read_fw_version(pe->slave, 1000, &fw, err);
	if (rc != VR_OK)
		fail_msg("usb_read_fw_version on the peer: %s", err->msg);
	struct usb_install_opts o = {.chunk_timeout_ms = chunk_ms};
	struct run_hooks h = hooks_for(rec);
	rec->cancel_on_log = cancel_on_log;
	rc = usb_install_bootloader(pe->slave, &fw, img, len, &o, &h, err);
	peer_join(pe);
	return rc;
}

static void erase_refused(void **state)
{
	(void)state;
	struct peer *pe = peer_start(6, 5);
	pe->erase_ok = 0;
	uint8_t *img = make_image(IMAGE_LEN);
	struct recorder rec = {0};
	struct vr_error err = {0};
	assert_int_equal(install_via_peer(pe, img, IMAGE_LEN, 500, &rec, &err), VR_ERR_OPERATION);
	expect_msg(&err, "refused to erase the bootloader sector (motor not released? Lisp busy? "
		   "retry with the motor idle)");
	assert_int_equal(atomic_load(&pe->erases), 1);
	assert_int_equal(atomic_load(&pe->writes), 0);
	assert_int_equal(atomic_load(&pe->sends[0]), 0);
	peer_free(pe);
	free(img);
}

static void wrong_offset_echo_stops(void **state)
{
	(void)state;
	struct peer *pe = peer_start(6, 5);
	pe->wrong_echo_chunk = 1;
	uint8_t *img = make_image(IMAGE_LEN);
	struct recorder rec = {0};
	struct vr_error err = {0};
	assert_int_equal(install_via_peer(pe, img, IMAGE_LEN, 500, &rec, &err), VR_ERR_OPERATION);
	expect_msg(&err, "offset 0x60180 (0x080E0180)");
	expect_msg(&err, "offset 0x60300 (0x080E0300)");
	expect_msg(&err, "stopped at 384 of 5280 bytes");
	expect_msg(&err, "it starts again from the erase");   /* not cut off */
	assert_int_equal(atomic_load(&pe->sends[1]), 1);   /* no resend of a misplaced chunk */
	assert_int_equal(atomic_load(&pe->sends[2]), 0);   /* and nothing after it */
	assert_int_equal(atomic_load(&pe->sends[3]), 0);
	peer_free(pe);
	free(img);
}

/* Without an echo (FW < 5.00) the same peer's wrong offset cannot be seen,
 * and is not invented: the 2-byte replies are accepted. */
static void two_byte_replies_carry_no_offset(void **state)
{
	(void)state;
	struct peer *pe = peer_start(4, 10);
	pe->wrong_echo_chunk = 1;
	uint8_t *img = make_image(IMAGE_LEN);
	struct recorder rec = {0};
	struct vr_error err = {0};
	vr_err rc = install_via_peer(pe, img, IMAGE_LEN, 500, &rec, &err);
	if (rc != VR_OK)
		fail_msg("%s", err.msg);
	assert_memory_equal(pe->sector, img, IMAGE_LEN);
	peer_free(pe);
	free(img);
}

static void port_vanishes_mid_write(void **state)
{
	(void)state;
	struct peer *pe = peer_start(6, 5);
	pe->vanish_after_writes = 3;
	uint8_t *img = make_image(IMAGE_LEN);
	struct recorder rec = {0};
	struct vr_error err = {0};
	long long t0 = serial_io_now_ms();
	assert_int_equal(install_via_peer(pe, img, IMAGE_LEN, 2000, &rec, &err), VR_ERR_GONE);
	assert_true(serial_io_now_ms() - t0 < 1500);          /* noticed, not timed out */
	/* chunks 0, 1 acknowledged, 2 blank (skipped), 3 acknowledged, then gone */
	expect_msg(&err, "stopped at 1536 of 5280 bytes");
	expect_msg(&err, "rerun the install: it starts again from the erase");
	peer_free(pe);
	free(img);
}

static void lost_reply_resends_same_chunk(void **state)
{
	(void)state;
	struct peer *pe = peer_start(6, 5);
	pe->drop_first_of_chunk = 1;
	uint8_t *img = make_image(IMAGE_LEN);
	struct recorder rec = {0};
	struct vr_error err = {0};
	vr_err rc = install_via_peer(pe, img, IMAGE_LEN, 150, &rec, &err);
	if (rc != VR_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(atomic_load(&pe->sends[1]), 2);
	assert_int_equal(atomic_load(&pe->sends[0]), 1);
	assert_memory_equal(pe->sector, img, IMAGE_LEN);
	assert_non_null(strstr(rec.log, "sending it again (2 of 3)"));
	assert_non_null(strstr(rec.log, "1 resent"));
	peer_free(pe);
	free(img);
}

/* The first reply comes after the resend went out: two replies for one
 * chunk. The second arrives while the next chunk waits and must not be
 * taken for a wrong offset. */
static void late_duplicate_reply_ignored(void **state)
{
	(void)state;
	struct peer *pe = peer_start(6, 5);
	pe->delay_first_of_chunk = 1;
	pe->delay_ms = 450;          /* between one and two reply windows */
	uint8_t *img = make_image(IMAGE_LEN);
	struct recorder rec = {0};
	struct vr_error err = {0};
	vr_err rc = install_via_peer(pe, img, IMAGE_LEN, 300, &rec, &err);
	if (rc != VR_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(atomic_load(&pe->sends[1]), 2);
	assert_memory_equal(pe->sector, img, IMAGE_LEN);
	assert_non_null(strstr(rec.log, "late second reply for offset 0x60180 ignored"));
	peer_free(pe);
	free(img);
}

static void silent_firmware_times_out_after_three_sends(void **state)
{
	(void)state;
	struct peer *pe = peer_start(6, 5);
	pe->mute_writes = true;
	uint8_t *img = make_image(IMAGE_LEN);
	struct recorder rec = {0};
	struct vr_error err = {0};
	long long t0 = serial_io_now_ms();
	assert_int_equal(install_via_peer(pe, img, IMAGE_LEN, 100, &rec, &err), VR_ERR_TIMEOUT);
	long long took = serial_io_now_ms() - t0;
	assert_true(took >= 300 && took < 1500);
	assert_int_equal(atomic_load(&pe->sends[0]), 3);
	assert_int_equal(atomic_load(&pe->sends[1]), 0);
	expect_msg(&err, "after 3 sends");
	expect_msg(&err, "stopped at 0 of 5280 bytes");
	peer_free(pe);
	free(img);
}

/* A cancel does not wait out the remaining sends of a chunk that gets no
 * reply (up to 9 s on a real link). */
static void cancel_between_resends(void **state)
{
	(void)state;
	struct peer *pe = peer_start(6, 5);
	pe->mute_writes = true;
	uint8_t *img = make_image(IMAGE_LEN);
	struct recorder rec = {.cancel_on_log = "sending it again (2 of 3)"};
	struct vr_error err = {0};
	assert_int_equal(install_via_peer(pe, img, IMAGE_LEN, 100, &rec, &err), VR_ERR_INTERRUPTED);
	assert_int_equal(atomic_load(&pe->sends[0]), 2);
	expect_msg(&err, "cancelled after 0 of 5280 bytes");
	expect_msg(&err, "rerun the install");
	peer_free(pe);
	free(img);
}

static void refused_chunk_fails_after_three_sends(void **state)
{
	(void)state;
	struct peer *pe = peer_start(6, 5);
	pe->refuse_chunk = 3;
	uint8_t *img = make_image(IMAGE_LEN);
	struct recorder rec = {0};
	struct vr_error err = {0};
	assert_int_equal(install_via_peer(pe, img, IMAGE_LEN, 300, &rec, &err), VR_ERR_OPERATION);
	assert_int_equal(atomic_load(&pe->sends[3]), 3);
	assert_int_equal(atomic_load(&pe->sends[4]), 0);
	expect_msg(&err, "refused the chunk at 0x080E0480 3 times");
	expect_msg(&err, "stopped at 1152 of 5280 bytes");
	peer_free(pe);
	free(img);
}

/* ---- usb_read_fw_version --------------------------------------------------------------- */

static void read_fw_version_generations(void **state)
{
	(void)state;
	static const int versions[][2] = {{2, 18}, {3, 40}, {5, 3}, {6, 5}};
	for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
		struct vesc_sim *sim = sim_start(versions[i][0], versions[i][1], VESC_SIM_HEALTHY, NULL);
		struct fw_version fw = who(vesc_sim_port(sim));
		assert_int_equal(fw.major, versions[i][0]);
		assert_int_equal(fw.minor, versions[i][1]);
		vesc_sim_stop(sim);
	}
}

static void read_fw_version_silent_port(void **state)
{
	(void)state;
	struct vesc_sim *sim = sim_start(6, 5, VESC_SIM_SILENT, NULL);
	struct fw_version fw;
	struct vr_error err = {0};
	long long t0 = serial_io_now_ms();
	assert_int_equal(usb_read_fw_version(vesc_sim_port(sim), 200, &fw, &err), VR_ERR_TIMEOUT);
	long long took = serial_io_now_ms() - t0;
	assert_true(took >= 190 && took < 1000);
	assert_int_equal(fw.major, -1);
	expect_msg(&err, "no VESC firmware answered");
	vesc_sim_stop(sim);
}

/* "02 FF" announces 255 bytes and holds the reply behind it back; when
 * the window closes the stray header is decided as noise and the reply
 * behind it still counts. */
static void reply_behind_stray_header_found(void **state)
{
	(void)state;
	struct peer *pe = peer_start(6, 5);
	pe->stray_header = true;
	peer_run(pe);
	struct fw_version fw;
	struct vr_error err = {0};
	vr_err rc = usb_read_fw_version(pe->slave, 300, &fw, &err);
	if (rc != VR_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(fw.major, 6);
	assert_int_equal(fw.minor, 5);
	peer_join(pe);
	peer_free(pe);
}

/* A noisy link still delivers the replies: garbage around every frame. */
static void install_through_line_noise(void **state)
{
	(void)state;
	struct vesc_sim *sim = sim_start(6, 5, VESC_SIM_NOISY_LINK, NULL);
	uint8_t *img = make_image(IMAGE_LEN);
	struct fw_version fw = who(vesc_sim_port(sim));
	struct vr_error err = {0};
	struct usb_install_opts o = {.chunk_timeout_ms = 500};
	vr_err rc = usb_install_bootloader(vesc_sim_port(sim), &fw, img, IMAGE_LEN, &o, NULL, &err);
	if (rc != VR_OK)
		fail_msg("%s", err.msg);
	expect_sector_holds(sim, img, IMAGE_LEN);
	vesc_sim_stop(sim);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(install_6_05_offset_echo),
		cmocka_unit_test(install_5_02_offset_echo),
		cmocka_unit_test(install_4_10_two_byte_replies),
		cmocka_unit_test(install_3_59_two_byte_replies),
		cmocka_unit_test(install_waits_for_slow_erase),
		cmocka_unit_test(install_through_line_noise),
		cmocka_unit_test(old_fw_refused_without_force),
		cmocka_unit_test(old_fw_forced_writes_every_chunk),
		cmocka_unit_test(bad_sizes_refused),
		cmocka_unit_test(unknown_version_refused),
		cmocka_unit_test(different_device_refused),
		cmocka_unit_test(cancel_between_chunks),
		cmocka_unit_test(cancel_before_start_sends_nothing),
		cmocka_unit_test(sim_disconnect_before_erase),
		cmocka_unit_test(erase_refused),
		cmocka_unit_test(wrong_offset_echo_stops),
		cmocka_unit_test(two_byte_replies_carry_no_offset),
		cmocka_unit_test(port_vanishes_mid_write),
		cmocka_unit_test(lost_reply_resends_same_chunk),
		cmocka_unit_test(late_duplicate_reply_ignored),
		cmocka_unit_test(silent_firmware_times_out_after_three_sends),
		cmocka_unit_test(cancel_between_resends),
		cmocka_unit_test(refused_chunk_fails_after_three_sends),
		cmocka_unit_test(read_fw_version_generations),
		cmocka_unit_test(read_fw_version_silent_port),
		cmocka_unit_test(reply_behind_stray_header_found),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
