/* The serial probe through real pseudo-terminals. The peers here are
 * small and written from the protocol (reference §1, §3, §5.2): each one
 * decodes requests with a firmware-like decoder and behaves one way
 * (healthy per FW generation, silent, noise, slow, partial, wrong baud,
 * disconnect mid-reply, echo, NMEA, a stale partial frame that needs the
 * flush). Timing checks leave room for a loaded machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "probes/serial_io.h"
#include "probes/serial_probe.h"
#include "vesc_proto.h"
#include "bench/vesc_sim.h"

enum behaviour {
	B_HEALTHY,
	B_SILENT,
	B_NOISE,
	B_SLOW,           /* answers each request after delay_ms */
	B_PARTIAL,        /* the first bytes of a reply, then nothing */
	B_DISCONNECT,     /* half a reply, then the port vanishes */
	B_ECHO,           /* every byte comes back */
	B_NMEA,           /* a GPS: text lines, whatever we send */
	B_WRONG_BAUD,     /* answers only at want_baud, garbage at other rates */
	B_STALE_HEADER,   /* its decoder holds "02 FF" from an earlier session */
};

struct peer {
	int master;
	char slave[64];
	enum behaviour behaviour;
	uint8_t reply[128];      /* FW_VERSION payload */
	size_t reply_len;
	unsigned delay_ms;
	unsigned want_baud;
	atomic_bool stop;
	atomic_uint requests;
	atomic_uint zeros_seen;
	pthread_t thread;
	struct vesc_decoder dec;
};

/* ---- FW_VERSION payloads of each generation (reference §3) --------------- */

static size_t put_str(uint8_t *p, const char *s)
{
	size_t n = strlen(s) + 1;
	memcpy(p, s, n);
	return n;
}

static const uint8_t test_uuid[12] = {0x30, 0x00, 0x1f, 0x00, 0x0a, 0x47, 0x36, 0x35,
				      0x33, 0x35, 0x38, 0x31};

static size_t fw_payload(uint8_t *p, int major, int minor)
{
	size_t n = 0;
	p[n++] = 0;
	p[n++] = (uint8_t)major;
	p[n++] = (uint8_t)minor;
	if (major < 3 || (major == 3 && minor < 9))
		return n;                         /* 1.x-3.8: three bytes */
	n += put_str(p + n, major >= 6 ? "60" : "410");
	memcpy(p + n, test_uuid, 12);
	n += 12;
	if (major == 3 && minor < 48)
		return n;
	p[n++] = 1;                               /* pairing_done */
	if (major < 5)
		return n;
	p[n++] = 0;                               /* test_version */
	if (major == 5 && minor < 2)
		return n;
	p[n++] = 0;                               /* hw_type VESC */
	p[n++] = 0;                               /* custom_config_count */
	if (major == 5 && minor < 3)
		return n;
	p[n++] = 0;
	p[n++] = 0;
	p[n++] = 0;                               /* phase filters, qml hw, qml app */
	if (major < 6)
		return n;
	p[n++] = 0;                               /* nrf_flags */
	n += put_str(p + n, "");                  /* fw_name */
	if (major == 6 && minor < 5)
		return n;
	vesc_put_u32(p + n, 0xdeadbeef);          /* hw_conf_crc */
	return n + 4;
}

/* ---- the peer ---------------------------------------------------------------- */

static void peer_write(struct peer *pe, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(pe->master, buf, len);
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static size_t reply_frame(struct peer *pe, uint8_t *out, size_t cap)
{
	size_t len = 0;
	assert_int_equal(vesc_encode(pe->reply, pe->reply_len, out, cap, &len, NULL), VR_OK);
	return len;
}

static unsigned master_baud(struct peer *pe)
{
	/* On Linux the master reports the slave's termios. */
	struct termios tio;
	if (tcgetattr(pe->master, &tio) != 0)
		return 0;
	speed_t s = cfgetospeed(&tio);
	static const struct { speed_t code; unsigned rate; } map[] = {
		{B9600, 9600}, {B19200, 19200}, {B38400, 38400}, {B57600, 57600},
		{B115200, 115200}, {B230400, 230400}, {B460800, 460800}, {B921600, 921600},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (map[i].code == s)
			return map[i].rate;
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Returns false when the peer hung up for good. */
static bool answer(struct peer *pe)
{
	uint8_t frame[160];
	size_t len;
	static const uint8_t garbage[] = {0xf0, 0x1c, 0x80, 0xfe, 0x00, 0x33, 0x9a, 0xc1, 0x02,
					  0x7f, 0x5e, 0xe0, 0x11, 0x88, 0x0f, 0xaa, 0x03, 0x40};
	switch (pe->behaviour) {
	case B_HEALTHY:
	case B_STALE_HEADER:
		len = reply_frame(pe, frame, sizeof frame);
		peer_write(pe, frame, len);
		break;
	case B_SLOW:
		for (unsigned waited = 0; waited < pe->delay_ms; waited += 10) {
			if (atomic_load(&pe->stop))
				return false;
			sleep_ms(10);
		}
		len = reply_frame(pe, frame, sizeof frame);
		peer_write(pe, frame, len);
		break;
	case B_NOISE:
		peer_write(pe, garbage, sizeof garbage);
		break;
	case B_PARTIAL:
		if (atomic_load(&pe->requests) == 1) {
			len = reply_frame(pe, frame, sizeof frame);
			peer_write(pe, frame, 7);
		}
		break;
	case B_DISCONNECT:
		len = reply_frame(pe, frame, sizeof frame);
		peer_write(pe, frame, len / 2);
		/* A hangup discards what the host has not read yet: give a
		 * host slowed by sanitizers time to read the half reply. */
		sleep_ms(150);
		close(pe->master);
		pe->master = -1;
		return false;
	case B_WRONG_BAUD:
		if (master_baud(pe) == pe->want_baud) {
			len = reply_frame(pe, frame, sizeof frame);
			peer_write(pe, frame, len);
		} else {
			peer_write(pe, garbage, 5);
		}
		break;
	default:
		break;
	}
	return true;
}

static void *peer_main(void *arg)
{
	struct peer *pe = arg;
	long long next_nmea = 0;
	while (!atomic_load(&pe->stop) && pe->master >= 0) {
		if (pe->behaviour == B_NMEA && serial_io_now_ms() >= next_nmea) {
			static const char line[] =
				"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n";
			peer_write(pe, (const uint8_t *)line, sizeof line - 1);
			next_nmea = serial_io_now_ms() + 40;
		}
		struct pollfd pfd = {.fd = pe->master, .events = POLLIN};
		if (poll(&pfd, 1, 10) <= 0)
			continue;
		uint8_t buf[1024];
		ssize_t n = read(pe->master, buf, sizeof buf);
		if (n <= 0) {
			sleep_ms(5);    /* no slave open yet (EIO): wait for one */
			continue;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == 0)
				atomic_fetch_add(&pe->zeros_seen, 1);
		if (pe->behaviour == B_ECHO) {
			peer_write(pe, buf, (size_t)n);
			continue;
		}
		const uint8_t *pl;
		size_t pl_len;
		for (size_t off = 0; off < (size_t)n;) {
			off += vesc_decoder_feed(&pe->dec, buf + off, (size_t)n - off);
			while (vesc_decoder_next(&pe->dec, &pl, &pl_len)) {
				if (pl_len != 1 || pl[0] != 0)
					continue;
				atomic_fetch_add(&pe->requests, 1);
				if (!answer(pe))
					return NULL;
			}
		}
	}
	return NULL;
}

static struct peer *peer_start(enum behaviour b, int major, int minor)
{
	struct peer *pe = calloc(1, sizeof *pe);
	assert_non_null(pe);
	pe->behaviour = b;
	pe->reply_len = fw_payload(pe->reply, major, minor);
	pe->delay_ms = 800;
	pe->want_baud = 115200;
	pe->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(pe->master >= 0);
	assert_int_equal(grantpt(pe->master), 0);
	assert_int_equal(unlockpt(pe->master), 0);
	assert_int_equal(ptsname_r(pe->master, pe->slave, sizeof pe->slave), 0);
	vesc_decoder_init(&pe->dec);
	if (b == B_STALE_HEADER) {
		/* left over from an earlier session: waits for 255 + 3 more bytes */
		static const uint8_t stale[] = {0x02, 0xff};
		vesc_decoder_feed(&pe->dec, stale, sizeof stale);
	}
	atomic_init(&pe->stop, false);
	atomic_init(&pe->requests, 0);
	atomic_init(&pe->zeros_seen, 0);
	return pe;
}

static void peer_run(struct peer *pe)
{
	assert_int_equal(pthread_create(&pe->thread, NULL, peer_main, pe), 0);
}

static void peer_stop(struct peer *pe)
{
	atomic_store(&pe->stop, true);
	pthread_join(pe->thread, NULL);
	if (pe->master >= 0)
		close(pe->master);
	free(pe);
}

/* ---- running the probe -------------------------------------------------------- */

static struct observations *probe_ports(const char *const *ports, unsigned n, unsigned timeout_ms,
					long long *took_ms)
{
	struct observations *obs = calloc(1, sizeof *obs);
	assert_non_null(obs);
	struct serial_probe_opts opts = {.ports = ports, .n_ports = n, .timeout_ms = timeout_ms};
	struct vr_error err = {0};
	long long t0 = serial_io_now_ms();
	assert_int_equal(serial_probe_run(&opts, obs, &err), VR_OK);
	if (took_ms)
		*took_ms = serial_io_now_ms() - t0;
	assert_int_equal(obs->n_serial, n);
	return obs;
}

static struct observations *probe_one(struct peer *pe, unsigned timeout_ms, long long *took_ms)
{
	const char *ports[] = {pe->slave};
	peer_run(pe);
	return probe_ports(ports, 1, timeout_ms, took_ms);
}

static void expect_status(const struct serial_obs *s, enum serial_status want)
{
	if (s->status != want)
		fail_msg("%s: status %s, wanted %s (detail: %s; error: %s)", s->port,
			 serial_status_name(s->status), serial_status_name(want), s->detail, s->error);
}

/* ---- tests ------------------------------------------------------------------- */

static void healthy_generation(int major, int minor, unsigned payload_len)
{
	struct peer *pe = peer_start(B_HEALTHY, major, minor);
	long long took;
	struct observations *obs = probe_one(pe, 250, &took);
	const struct serial_obs *s = &obs->serial[0];
	expect_status(s, SERIAL_VESC);
	assert_int_equal(s->fw.major, major);
	assert_int_equal(s->fw.minor, minor);
	assert_int_equal(s->fw.payload_len, payload_len);
	assert_true(s->frames >= 1);
	assert_true(s->reply_ms < 250);
	assert_true(took < 250);   /* a VESC ends its port's wait at once */
	assert_false(s->is_uart);
	if (major >= 3 && !(major == 3 && minor < 9)) {
		assert_true(s->fw.has_uuid);
		assert_memory_equal(s->fw.uuid, test_uuid, 12);
	}
	if (major == 6 && minor >= 5) {
		assert_true(s->fw.has_hw_conf_crc);
		assert_int_equal(s->fw.hw_conf_crc, 0xdeadbeef);
		assert_string_equal(s->fw.hw_name, "60");
	}
	assert_non_null(strstr(s->detail, "firmware"));
	assert_true(atomic_load(&pe->zeros_seen) < VESC_FLUSH_LEN);  /* no flush for an answering port */
	free(obs);
	peer_stop(pe);
}

static void healthy_every_generation(void **state)
{
	(void)state;
	healthy_generation(2, 18, 3);
	healthy_generation(3, 40, 3 + 4 + 12);
	healthy_generation(5, 2, 3 + 4 + 12 + 1 + 1 + 2);
	healthy_generation(6, 5, 3 + 3 + 12 + 1 + 1 + 2 + 3 + 1 + 1 + 4);
}

struct peer_case {
	enum behaviour behaviour;
	enum serial_status want;
	const char *detail_part;   /* a piece the detail must contain, or NULL */
};

/* Every behaviour of our own peers in one probe, all ports at once, so the
 * run also proves concurrency: it ends in about one timeout plus the flush
 * retry, however many ports stay silent. */
static void every_behaviour_at_once(void **state)
{
	(void)state;
	static const struct peer_case cases[] = {
		{B_SILENT, SERIAL_SILENT, "flush"},
		{B_SILENT, SERIAL_SILENT, NULL},
		{B_SLOW, SERIAL_SILENT, "--timeout 1000"},
		{B_STALE_HEADER, SERIAL_VESC, "6.05"},
		{B_NOISE, SERIAL_NOISE, "no valid frame"},
		{B_PARTIAL, SERIAL_NOISE, "never completed"},
		{B_DISCONNECT, SERIAL_ERROR, "mid-reply"},
		{B_ECHO, SERIAL_ECHO, "bridged"},
		{B_NMEA, SERIAL_OTHER, "$GPGGA"},
		{B_HEALTHY, SERIAL_VESC, "answered"},
	};
	enum { N = sizeof cases / sizeof cases[0] };
	struct peer *peers[N];
	const char *ports[N];
	for (unsigned i = 0; i < N; i++) {
		peers[i] = peer_start(cases[i].behaviour, 6, 5);
		ports[i] = peers[i]->slave;
		peer_run(peers[i]);
	}
	long long took;
	struct observations *obs = probe_ports(ports, N, 250, &took);
	for (unsigned i = 0; i < N; i++) {
		const struct serial_obs *s = &obs->serial[i];
		expect_status(s, cases[i].want);
		if (cases[i].detail_part && !strstr(s->detail, cases[i].detail_part))
			fail_msg("%s: detail \"%s\" lacks \"%s\"", s->port, s->detail,
				 cases[i].detail_part);
	}
	/* request, flush, request for the silent ones; the flush reached the
	 * stale decoder; answering and talking ports got no flush */
	assert_int_equal(atomic_load(&peers[0]->requests), 2);
	assert_true(atomic_load(&peers[0]->zeros_seen) >= VESC_FLUSH_LEN);
	assert_true(atomic_load(&peers[3]->zeros_seen) >= VESC_FLUSH_LEN);
	assert_true(atomic_load(&peers[5]->zeros_seen) < VESC_FLUSH_LEN);
	assert_true(atomic_load(&peers[9]->zeros_seen) < VESC_FLUSH_LEN);
	assert_true(obs->serial[4].noise_bytes > 0);
	assert_int_equal(obs->serial[4].frames, 0);
	assert_int_equal(obs->serial[6].err, VR_ERR_GONE);
	assert_true(strlen(obs->serial[6].error) > 0);
	assert_true(obs->serial[9].reply_ms < 250);
	/* two windows (the second 25 ms shorter, to stay inside 0.5 s) */
	assert_true(took >= 465 && took < 750);
	free(obs);
	for (unsigned i = 0; i < N; i++)
		peer_stop(peers[i]);
}

static void answering_port_ends_early(void **state)
{
	(void)state;
	struct peer *pe = peer_start(B_HEALTHY, 6, 5);
	long long took;
	struct observations *obs = probe_one(pe, 250, &took);
	expect_status(&obs->serial[0], SERIAL_VESC);
	assert_true(took < 200);
	free(obs);
	peer_stop(pe);
}

static struct observations *probe_uart(struct peer *pe, unsigned baud, unsigned timeout_ms,
					long long *took_ms)
{
	peer_run(pe);
	struct observations *obs = calloc(1, sizeof *obs);
	assert_non_null(obs);
	struct serial_probe_opts opts = {.uart = pe->slave, .uart_baud = baud,
					 .timeout_ms = timeout_ms};
	struct vr_error err = {0};
	long long t0 = serial_io_now_ms();
	assert_int_equal(serial_probe_run(&opts, obs, &err), VR_OK);
	*took_ms = serial_io_now_ms() - t0;
	assert_int_equal(obs->n_serial, 1);
	assert_true(obs->serial[0].is_uart);
	return obs;
}

/* One probe run on its own thread: the probe keeps no global state, so
 * independent runs may overlap (and the slow scans here then cost the
 * time of one). */
struct probe_job {
	struct serial_probe_opts opts;
	const char *port;
	struct observations obs;
	long long took;
	vr_err rc;
	pthread_t thread;
};

static void *job_main(void *arg)
{
	struct probe_job *job = arg;
	struct vr_error err = {0};
	long long t0 = serial_io_now_ms();
	job->rc = serial_probe_run(&job->opts, &job->obs, &err);
	job->took = serial_io_now_ms() - t0;
	return NULL;
}

static void run_jobs(struct probe_job *jobs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(pthread_create(&jobs[i].thread, NULL, job_main, &jobs[i]), 0);
	for (unsigned i = 0; i < n; i++) {
		pthread_join(jobs[i].thread, NULL);
		assert_int_equal(jobs[i].rc, VR_OK);
		assert_int_equal(jobs[i].obs.n_serial, 1);
	}
}

static void uart_scan_job(struct probe_job *job, const char *port, unsigned timeout_ms)
{
	memset(job, 0, sizeof *job);
	job->port = port;
	job->opts.uart = port;
	job->opts.uart_baud = 0;
	job->opts.timeout_ms = timeout_ms;
}

struct scan_case {
	enum behaviour behaviour;
	unsigned want_baud;           /* B_WRONG_BAUD: where it answers; 1: nowhere */
	enum serial_status want;
	const char *detail_part;
};

static void baud_scans(void **state)
{
	(void)state;
	static const struct scan_case cases[] = {
		{B_WRONG_BAUD, 115200, SERIAL_VESC, "at 115200 baud"},
		{B_WRONG_BAUD, 9600, SERIAL_VESC, "at 9600 baud"},
		{B_WRONG_BAUD, 57600, SERIAL_VESC, "at 57600 baud"},
		{B_WRONG_BAUD, 921600, SERIAL_VESC, "at 921600 baud"},
		/* garbage at every rate we scan: a rate outside the list, or wiring */
		{B_WRONG_BAUD, 1, SERIAL_NOISE, "9600, 19200"},
		{B_SILENT, 0, SERIAL_SILENT, "every rate"},
		{B_ECHO, 0, SERIAL_ECHO, "bridged"},
	};
	enum { N = sizeof cases / sizeof cases[0] };
	struct peer *peers[N];
	struct probe_job *jobs = calloc(N, sizeof *jobs);
	assert_non_null(jobs);
	for (unsigned i = 0; i < N; i++) {
		peers[i] = peer_start(cases[i].behaviour, 6, 5);
		peers[i]->want_baud = cases[i].want_baud;
		peer_run(peers[i]);
		uart_scan_job(&jobs[i], peers[i]->slave, 60);
	}
	run_jobs(jobs, N);
	for (unsigned i = 0; i < N; i++) {
		const struct serial_obs *s = &jobs[i].obs.serial[0];
		expect_status(s, cases[i].want);
		assert_true(s->is_uart);
		if (!strstr(s->detail, cases[i].detail_part))
			fail_msg("%s: detail \"%s\" lacks \"%s\"", s->port, s->detail,
				 cases[i].detail_part);
		if (cases[i].want == SERIAL_VESC)
			assert_int_equal(s->baud, cases[i].want_baud);
		/* within the budget the scan plan promises */
		assert_true(jobs[i].took <= (long long)serial_probe_scan_budget_ms(60));
	}
	/* the silent one: every rate got a request; echo ends the scan at once */
	assert_true(atomic_load(&peers[5]->requests) >= SERIAL_PROBE_N_SCAN_RATES);
	assert_true(jobs[6].took < 200);
	/* at the default timeout the plan fits the contract's 2 s */
	assert_true(serial_probe_scan_budget_ms(0) <= 2000);
	assert_true(serial_probe_scan_budget_ms(250) <= 2000);
	free(jobs);
	for (unsigned i = 0; i < N; i++)
		peer_stop(peers[i]);
}

static void fixed_baud_uart(void **state)
{
	(void)state;
	struct peer *pe = peer_start(B_WRONG_BAUD, 6, 5);
	pe->want_baud = 38400;
	long long took;
	struct observations *obs = probe_uart(pe, 38400, 250, &took);
	expect_status(&obs->serial[0], SERIAL_VESC);
	assert_int_equal(obs->serial[0].baud, 38400);
	free(obs);
	peer_stop(pe);

	pe = peer_start(B_SILENT, 6, 5);
	obs = probe_uart(pe, 19200, 100, &took);
	expect_status(&obs->serial[0], SERIAL_SILENT);
	assert_non_null(strstr(obs->serial[0].detail, "--baud auto"));
	free(obs);
	peer_stop(pe);

	struct observations bad;
	memset(&bad, 0, sizeof bad);
	struct serial_probe_opts opts = {.uart = "/dev/null", .uart_baud = 12345};
	struct vr_error err = {0};
	assert_int_equal(serial_probe_run(&opts, &bad, &err), VR_ERR_USAGE);
	assert_int_equal(bad.n_serial, 0);
}

static void missing_and_duplicate_ports(void **state)
{
	(void)state;
	struct peer *pe = peer_start(B_HEALTHY, 6, 5);
	peer_run(pe);
	const char *ports[] = {"/dev/ttyNOPE_VR", pe->slave, pe->slave};
	struct observations *obs = calloc(1, sizeof *obs);
	assert_non_null(obs);
	struct serial_probe_opts opts = {.ports = ports, .n_ports = 3};
	struct vr_error err = {0};
	assert_int_equal(serial_probe_run(&opts, obs, &err), VR_OK);
	assert_int_equal(obs->n_serial, 2);   /* the same port once */
	expect_status(&obs->serial[0], SERIAL_ERROR);
	assert_int_equal(obs->serial[0].err, VR_ERR_NO_DEVICE);
	assert_true(strlen(obs->serial[0].error) > 0);
	expect_status(&obs->serial[1], SERIAL_VESC);
	free(obs);
	peer_stop(pe);
}

/* A port named twice (a by-id style symlink and its target, or --port and
 * --uart) is opened once: a second open would find it busy by ourselves. */
static void same_port_by_two_names_is_probed_once(void **state)
{
	(void)state;
	struct peer *pe = peer_start(B_HEALTHY, 2, 18);
	peer_run(pe);
	char link[] = "/tmp/vr-by-id-XXXXXX";
	int fd = mkstemp(link);
	assert_true(fd >= 0);
	close(fd);
	unlink(link);
	assert_int_equal(symlink(pe->slave, link), 0);
	const char *ports[] = {link, pe->slave};
	struct observations *obs = calloc(1, sizeof *obs);
	assert_non_null(obs);
	struct serial_probe_opts opts = {.ports = ports, .n_ports = 2, .uart = pe->slave,
					 .uart_baud = 115200};
	struct vr_error err = {0};
	assert_int_equal(serial_probe_run(&opts, obs, &err), VR_OK);
	assert_int_equal(obs->n_serial, 1);
	expect_status(&obs->serial[0], SERIAL_VESC);
	assert_true(obs->serial[0].is_uart);
	assert_int_equal(obs->serial[0].baud, 115200);
	assert_non_null(strstr(obs->serial[0].detail, "2.18"));
	unlink(link);
	free(obs);
	peer_stop(pe);
}

static void port_held_by_another_program_is_busy(void **state)
{
	(void)state;
	struct peer *pe = peer_start(B_HEALTHY, 6, 5);
	peer_run(pe);
	struct serial_port *holder = NULL;
	struct vr_error err = {0};
	assert_int_equal(serial_io_open(pe->slave, 115200, &holder, &err), VR_OK);
	const char *ports[] = {pe->slave};
	struct observations *obs = probe_ports(ports, 1, 250, NULL);
	expect_status(&obs->serial[0], SERIAL_ERROR);
	assert_int_equal(obs->serial[0].err, VR_ERR_BUSY);
	serial_io_close(holder);
	free(obs);
	peer_stop(pe);
}


/* ---- the bench's simulated VESC (src/bench/vesc_sim), every behaviour --- */

static struct vesc_sim *sim_start(enum vesc_sim_behaviour b, int major, int minor)
{
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.behaviour = b;
	cfg.fw_major = major;
	cfg.fw_minor = minor;
	struct vesc_sim *sim = NULL;
	struct vr_error err = {0};
	if (vesc_sim_start(&cfg, &sim, &err) != VR_OK)
		fail_msg("vesc_sim_start: %s", err.msg);
	return sim;
}

struct sim_case {
	enum vesc_sim_behaviour behaviour;
	int major, minor;
	enum serial_status want;
};

/* All at once, as a bench with many ports looks: also proves the probe
 * keeps one port's trouble (a hangup, a flood) away from the others. */
static void sim_every_behaviour_at_once(void **state)
{
	(void)state;
	static const struct sim_case cases[] = {
		{VESC_SIM_HEALTHY, 2, 18, SERIAL_VESC},
		{VESC_SIM_HEALTHY, 3, 40, SERIAL_VESC},
		{VESC_SIM_HEALTHY, 5, 2, SERIAL_VESC},
		{VESC_SIM_HEALTHY, 6, 5, SERIAL_VESC},
		{VESC_SIM_NOISY_LINK, 6, 5, SERIAL_VESC},
		{VESC_SIM_SILENT, 6, 5, SERIAL_SILENT},
		{VESC_SIM_SLOW, 6, 5, SERIAL_SILENT},
		{VESC_SIM_NOISE, 6, 5, SERIAL_NOISE},
		{VESC_SIM_PARTIAL, 6, 5, SERIAL_NOISE},
		{VESC_SIM_DISCONNECT, 6, 5, SERIAL_ERROR},
		{VESC_SIM_ECHO, 6, 5, SERIAL_ECHO},
		{VESC_SIM_NMEA, 6, 5, SERIAL_OTHER},
	};
	enum { N = sizeof cases / sizeof cases[0] };
	struct vesc_sim *sims[N];
	const char *ports[N];
	for (unsigned i = 0; i < N; i++) {
		sims[i] = sim_start(cases[i].behaviour, cases[i].major, cases[i].minor);
		ports[i] = vesc_sim_port(sims[i]);
	}
	/* alongside: the slow VESC with the longer timeout, and the wrong-baud
	 * VESC through the scan, each in a run of its own */
	struct vesc_sim *slow = sim_start(VESC_SIM_SLOW, 6, 5);
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.behaviour = VESC_SIM_WRONG_BAUD;
	cfg.baud = 38400;
	struct vesc_sim *uart = NULL;
	struct vr_error err = {0};
	assert_int_equal(vesc_sim_start(&cfg, &uart, &err), VR_OK);
	struct probe_job *jobs = calloc(2, sizeof *jobs);
	assert_non_null(jobs);
	const char *slow_port[] = {vesc_sim_port(slow)};
	jobs[0].opts.ports = slow_port;
	jobs[0].opts.n_ports = 1;
	jobs[0].opts.timeout_ms = 1000;
	uart_scan_job(&jobs[1], vesc_sim_port(uart), 100);
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&jobs[i].thread, NULL, job_main, &jobs[i]), 0);

	long long took;
	struct observations *obs = probe_ports(ports, N, 250, &took);
	for (unsigned i = 0; i < N; i++) {
		const struct serial_obs *s = &obs->serial[i];
		expect_status(s, cases[i].want);
		if (cases[i].want == SERIAL_VESC) {
			assert_int_equal(s->fw.major, cases[i].major);
			assert_int_equal(s->fw.minor, cases[i].minor);
		}
		assert_true(strlen(s->detail) > 0);
	}
	assert_int_equal(obs->serial[9].err, VR_ERR_GONE);
	assert_true(obs->serial[4].noise_bytes > 0);     /* noise around the reply */
	assert_string_equal(obs->serial[3].fw.hw_name, "60");
	assert_true(took < 800);
	struct vesc_sim_stats st;
	vesc_sim_get_stats(sims[5], &st);
	/* request, flush, request */
	assert_int_equal(st.bytes_in, 2 * VESC_FW_VERSION_FRAME_LEN + VESC_FLUSH_LEN);

	for (unsigned i = 0; i < 2; i++) {
		pthread_join(jobs[i].thread, NULL);
		assert_int_equal(jobs[i].rc, VR_OK);
		assert_int_equal(jobs[i].obs.n_serial, 1);
	}
	expect_status(&jobs[0].obs.serial[0], SERIAL_VESC);
	assert_true(jobs[0].obs.serial[0].reply_ms >= 780);
	expect_status(&jobs[1].obs.serial[0], SERIAL_VESC);
	assert_int_equal(jobs[1].obs.serial[0].baud, 38400);
	free(jobs);
	free(obs);
	for (unsigned i = 0; i < N; i++)
		vesc_sim_stop(sims[i]);
	vesc_sim_stop(slow);
	vesc_sim_stop(uart);
}

/* FW < 3.48 may send a 256-byte frame with the "02 00" header bug
 * (reference §1.3): dropped, and the FW_VERSION reply behind it counts. */
static void sim_old_length_bug_frame_is_dropped(void **state)
{
	(void)state;
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.fw_major = 3;
	cfg.fw_minor = 40;
	cfg.old_length_bug = true;
	struct vesc_sim *sim = NULL;
	struct vr_error err = {0};
	assert_int_equal(vesc_sim_start(&cfg, &sim, &err), VR_OK);
	const char *ports[] = {vesc_sim_port(sim)};
	struct observations *obs = probe_ports(ports, 1, 250, NULL);
	expect_status(&obs->serial[0], SERIAL_VESC);
	assert_int_equal(obs->serial[0].fw.major, 3);
	assert_int_equal(obs->serial[0].fw.minor, 40);
	free(obs);
	vesc_sim_stop(sim);
}

static void sim_wrong_baud_at_a_fixed_rate_does_not_answer(void **state)
{
	(void)state;
	struct vesc_sim_config cfg;
	vesc_sim_config_defaults(&cfg);
	cfg.behaviour = VESC_SIM_WRONG_BAUD;
	cfg.baud = 38400;
	struct vesc_sim *sim = NULL;
	struct vr_error err = {0};
	assert_int_equal(vesc_sim_start(&cfg, &sim, &err), VR_OK);
	struct observations *obs = calloc(1, sizeof *obs);
	assert_non_null(obs);
	struct serial_probe_opts opts = {.uart = vesc_sim_port(sim), .uart_baud = 115200,
					 .timeout_ms = 100};
	assert_int_equal(serial_probe_run(&opts, obs, &err), VR_OK);
	assert_int_not_equal(obs->serial[0].status, SERIAL_VESC);
	assert_int_equal(obs->serial[0].baud, 115200);
	free(obs);
	vesc_sim_stop(sim);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(healthy_every_generation),
		cmocka_unit_test(every_behaviour_at_once),
		cmocka_unit_test(answering_port_ends_early),
		cmocka_unit_test(baud_scans),
		cmocka_unit_test(fixed_baud_uart),
		cmocka_unit_test(missing_and_duplicate_ports),
		cmocka_unit_test(same_port_by_two_names_is_probed_once),
		cmocka_unit_test(port_held_by_another_program_is_busy),
		cmocka_unit_test(sim_every_behaviour_at_once),
		cmocka_unit_test(sim_old_length_bug_frame_is_dropped),
		cmocka_unit_test(sim_wrong_baud_at_a_fixed_rate_does_not_answer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
