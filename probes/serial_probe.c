#include "probes/serial_probe.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/serial_io.h"
#include "probes/usb_probe.h"
#include "vesc_proto.h"

const unsigned serial_probe_scan_rates[SERIAL_PROBE_N_SCAN_RATES] = {
	115200, 9600, 19200, 38400, 57600, 230400, 460800, 921600,
};

/* The rate every port starts at: the VESC's UART default (reference
 * §5.2); a CDC port ignores it. */
#define DEFAULT_BAUD 115200u
/* Reply window per extra rate of the scan, so eight rates fit in ~2 s. */
#define SCAN_WAIT_MS 130u
/* At low rates the full 518-byte flush would take half a second; the scan
 * sends what fits in this much wire time (the firmware decoder only has
 * to be pushed past a stale header our wrong-rate bytes may have left). */
#define SCAN_FLUSH_WIRE_MS 50u
#define RX_HEAD_MAX 96u

struct run_port {
	struct serial_obs *obs;
	char path[128];
	struct serial_port *sp;
	struct vesc_decoder *dec;
	bool real_uart;           /* a USB-UART bridge: bytes take wire time */
	bool scan;                /* --baud auto */
	unsigned rate_idx;
	unsigned baud;
	bool flushed;             /* the flush + second request went out at this rate */
	bool done;
	long long t_first_request;
	long long deadline;
	uint8_t tx[VESC_FLUSH_LEN + VESC_FW_VERSION_FRAME_LEN];
	size_t tx_len, tx_off;
	/* what this rate brought */
	uint8_t rx_head[RX_HEAD_MAX];
	size_t rx_head_len;
	unsigned long rx_bytes;
	bool echo_frame;          /* our own 1-byte FW_VERSION request, decoded */
	unsigned other_frames;    /* valid frames that are not a FW_VERSION reply */
	size_t pending_at_end;    /* a frame had started but not completed */
	/* the scan so far */
	unsigned noisy_rates[SERIAL_PROBE_N_SCAN_RATES];
	unsigned n_noisy;
	unsigned long total_rx;
};

struct probe_run {
	struct run_port *ports;
	unsigned n;
	unsigned timeout_ms;
};

/* ---- small helpers ------------------------------------------------------- */

static void copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static unsigned wire_ms(size_t bytes, unsigned baud)
{
	if (!baud)
		return 0;
	/* 8N1: ten bit times a byte, rounded up */
	return (unsigned)((bytes * 10u * 1000u + baud - 1) / baud);
}

static bool same_port(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];
	if (realpath(a, ra) && realpath(b, rb))
		return strcmp(ra, rb) == 0;
	return strcmp(a, b) == 0;
}

/* ---- building the port list ------------------------------------------------ */

static struct run_port *find_port(struct probe_run *run, const char *path)
{
	for (unsigned i = 0; i < run->n; i++)
		if (same_port(run->ports[i].path, path))
			return &run->ports[i];
	return NULL;
}

static struct run_port *add_port(struct probe_run *run, struct observations *obs,
				 const char *path)
{
	struct run_port *existing = find_port(run, path);
	if (existing)
		return existing;
	if (obs->n_serial >= OBS_MAX_SERIAL)
		return NULL;
	struct run_port *p = &run->ports[run->n++];
	memset(p, 0, sizeof *p);
	copy_text(p->path, sizeof p->path, path);
	p->obs = &obs->serial[obs->n_serial++];
	memset(p->obs, 0, sizeof *p->obs);
	copy_text(p->obs->port, sizeof p->obs->port, path);
	p->obs->status = SERIAL_SILENT;
	vesc_fw_version_clear(&p->obs->fw);
	p->baud = DEFAULT_BAUD;
	struct usb_tty info;
	if (usb_lookup_tty(path, &info) && info.is_usb) {
		p->obs->vid = info.vid;
		p->obs->pid = info.pid;
		copy_text(p->obs->usb_serial, sizeof p->obs->usb_serial, info.serial);
		p->real_uart = usb_classify(info.vid, info.pid, NULL).kind == USB_KIND_UART_BRIDGE;
	}
	return p;
}

static void add_enumerated(struct probe_run *run, struct observations *obs)
{
	struct usb_tty *ttys = calloc(OBS_MAX_SERIAL * 2, sizeof *ttys);
	if (!ttys)
		return;
	unsigned n = usb_list_ttys(ttys, OBS_MAX_SERIAL * 2);
	for (unsigned i = 0; i < n; i++)
		if (ttys[i].is_usb && usb_is_vesc_candidate(ttys[i].vid, ttys[i].pid))
			add_port(run, obs, ttys[i].path);
	free(ttys);
}

static void build_port_list(const struct serial_probe_opts *opts, struct probe_run *run,
			    struct observations *obs)
{
	for (unsigned i = 0; opts->ports && i < opts->n_ports; i++)
		if (opts->ports[i])
			add_port(run, obs, opts->ports[i]);
	if (opts->uart) {
		struct run_port *u = add_port(run, obs, opts->uart);
		if (u) {
			u->obs->is_uart = true;
			u->real_uart = true;
			u->scan = opts->uart_baud == 0;
			u->baud = u->scan ? serial_probe_scan_rates[0] : opts->uart_baud;
		}
	}
	if (opts->enumerate)
		add_enumerated(run, obs);
}

/* ---- per-port state machine ------------------------------------------------ */

static void fail_port(struct run_port *p, const struct vr_error *e)
{
	p->obs->status = SERIAL_ERROR;
	p->obs->err = e->code;
	copy_text(p->obs->error, sizeof p->obs->error, e->msg);
	if (e->code == VR_ERR_GONE && p->total_rx + p->rx_bytes > 0)
		snprintf(p->obs->detail, sizeof p->obs->detail,
			 "the port vanished mid-reply after %lu bytes: unplugged, reset or a "
			 "brown-out (check cable and power)", p->total_rx + p->rx_bytes);
	else if (e->code == VR_ERR_GONE)
		copy_text(p->obs->detail, sizeof p->obs->detail,
			  "the port vanished during the probe: unplugged, reset or a brown-out");
	else
		snprintf(p->obs->detail, sizeof p->obs->detail, "cannot use the port: %s",
			 vr_err_str(e->code));
	p->done = true;
}

/* The reply window closes wait_ms after from_ms (plus the bytes' wire
 * time on a real UART). */
/* The flush retry's window: the whole probe stays inside twice the timeout
 * (0.5 s by default, CONTRACTS.md §6) with room for the loop's own time,
 * so "inside" holds on a busy machine too. */
#define RETRY_MARGIN_MS 25u

static unsigned retry_window_ms(unsigned timeout_ms)
{
	return timeout_ms > 2 * RETRY_MARGIN_MS ? timeout_ms - RETRY_MARGIN_MS : timeout_ms;
}

static void queue_request(struct run_port *p, size_t flush_len, long long from_ms,
			  unsigned wait_ms)
{
	uint8_t frame[VESC_FW_VERSION_FRAME_LEN];
	vesc_fw_version_frame(frame);
	if (flush_len > VESC_FLUSH_LEN)
		flush_len = VESC_FLUSH_LEN;
	memset(p->tx, 0, flush_len);
	memcpy(p->tx + flush_len, frame, sizeof frame);
	p->tx_len = flush_len + sizeof frame;
	p->tx_off = 0;
	if (!p->t_first_request)
		p->t_first_request = serial_io_now_ms();
	p->deadline = from_ms + wait_ms + (p->real_uart ? wire_ms(p->tx_len, p->baud) : 0);
}

static void reset_rate_capture(struct run_port *p)
{
	vesc_decoder_init(p->dec);
	p->rx_head_len = 0;
	p->rx_bytes = 0;
	p->echo_frame = false;
	p->other_frames = 0;
	p->pending_at_end = 0;
	p->flushed = false;
	p->t_first_request = 0;
}

static void add_stats(struct run_port *p)
{
	p->obs->frames += p->dec->stats.frames;
	p->obs->crc_errors += p->dec->stats.crc_errors;
	p->obs->noise_bytes += p->dec->stats.noise_bytes;
}

static void found_vesc(struct run_port *p)
{
	struct serial_obs *o = p->obs;
	add_stats(p);
	o->status = SERIAL_VESC;
	o->reply_ms = (unsigned)(serial_io_now_ms() - p->t_first_request);
	if (o->is_uart)
		o->baud = p->baud;
	char rate[48] = "";
	if (o->is_uart)
		snprintf(rate, sizeof rate, " at %u baud", p->baud);
	/* A reply found among garbage works, but the link is marginal. */
	char noise[96] = "";
	if (o->noise_bytes || o->crc_errors)
		snprintf(noise, sizeof noise,
			 "; %u stray bytes and %u CRC errors around it: check cable and ground",
			 o->noise_bytes, o->crc_errors);
	snprintf(o->detail, sizeof o->detail, "VESC firmware %d.%02d%s%s answered in %u ms%s%s",
		 o->fw.major, o->fw.minor, o->fw.hw_name[0] ? ", HW " : "", o->fw.hw_name,
		 o->reply_ms, rate, noise);
	p->done = true;
}

static void take_frames(struct run_port *p)
{
	const uint8_t *payload;
	size_t len;
	while (!p->done && vesc_decoder_next(p->dec, &payload, &len)) {
		struct fw_version fw;
		if (len >= 1 && payload[0] == VESC_COMM_FW_VERSION &&
		    vesc_fw_version_parse(payload, len, &fw, NULL) == VR_OK) {
			p->obs->fw = fw;
			found_vesc(p);
		} else if (len == 1 && payload[0] == VESC_COMM_FW_VERSION) {
			p->echo_frame = true;
		} else {
			p->other_frames++;
		}
	}
}

static void feed(struct run_port *p, const uint8_t *buf, size_t n)
{
	size_t head_room = RX_HEAD_MAX - p->rx_head_len;
	size_t keep = n < head_room ? n : head_room;
	memcpy(p->rx_head + p->rx_head_len, buf, keep);
	p->rx_head_len += keep;
	p->rx_bytes += n;
	for (size_t off = 0; off < n && !p->done;) {
		off += vesc_decoder_feed(p->dec, buf + off, n - off);
		take_frames(p);
	}
}

static void handle_io(struct run_port *p, short revents)
{
	struct vr_error e = {0};
	if ((revents & POLLOUT) && p->tx_off < p->tx_len) {
		size_t done;
		if (serial_io_write_some(p->sp, p->tx + p->tx_off, p->tx_len - p->tx_off, &done,
					 &e) != VR_OK) {
			fail_port(p, &e);
			return;
		}
		p->tx_off += done;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)))
		return;
	uint8_t buf[512];
	size_t got;
	do {
		if (serial_io_read_some(p->sp, buf, sizeof buf, &got, &e) != VR_OK) {
			fail_port(p, &e);
			return;
		}
		feed(p, buf, got);
	} while (got == sizeof buf && !p->done);
	if (!p->done && got == 0 && (revents & (POLLHUP | POLLERR | POLLNVAL)) &&
	    !(revents & POLLIN)) {
		serial_io_errno_error(EIO, p->path, "reading", &e);
		fail_port(p, &e);
	}
}

/* ---- verdicts ------------------------------------------------------------- */

static enum serial_status classify_rate(const struct run_port *p)
{
	if (p->rx_bytes == 0)
		return SERIAL_SILENT;
	if (p->echo_frame)
		return SERIAL_ECHO;
	if (p->other_frames > 0 || vesc_decoder_looks_like_text(p->dec))
		return SERIAL_OTHER;
	return SERIAL_NOISE;
}

static void text_excerpt(const struct run_port *p, char *out, size_t size)
{
	size_t n = 0;
	for (size_t i = 0; i < p->rx_head_len && n + 1 < size && n < 40; i++) {
		uint8_t c = p->rx_head[i];
		if (c == '\r' || c == '\n')
			c = ' ';
		out[n++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '.';
	}
	out[n] = '\0';
}

static void describe_silent(struct run_port *p, unsigned timeout_ms)
{
	struct serial_obs *o = p->obs;
	if (o->is_uart)
		snprintf(o->detail, sizeof o->detail,
			 "silent at %u baud: UART app off (App to Use must include UART), TX/RX "
			 "not crossed, GND missing, wrong rate (try --baud auto) or no firmware",
			 p->baud);
	else if (p->real_uart)
		snprintf(o->detail, sizeof o->detail,
			 "USB-UART adapter silent at %u baud: if it is wired to the VESC, check "
			 "TX/RX crossed and GND, and scan the rates with --uart %s --baud auto",
			 p->baud, p->path);
	else
		snprintf(o->detail, sizeof o->detail,
			 "no reply to COMM_FW_VERSION within %u ms, nor after the decoder flush: "
			 "firmware not answering, or not a VESC (--timeout 1000 for a slow link)",
			 timeout_ms);
}

static void describe_other(struct run_port *p)
{
	struct serial_obs *o = p->obs;
	if (p->other_frames > 0) {
		snprintf(o->detail, sizeof o->detail,
			 "%u VESC-framed packets but no FW_VERSION reply: a VESC-protocol "
			 "device busy with something else; retry", p->other_frames);
		return;
	}
	char excerpt[48];
	text_excerpt(p, excerpt, sizeof excerpt);
	snprintf(o->detail, sizeof o->detail,
		 "text instead of VESC frames (\"%s\"): another device talks here "
		 "(a GPS sending NMEA?), not a VESC", excerpt);
}

static void describe_noise(struct run_port *p)
{
	struct serial_obs *o = p->obs;
	/* Everything that came is one unfinished frame: a reply cut short,
	 * not noise that happened to contain a start byte. */
	if (p->pending_at_end > 0 && p->pending_at_end == p->rx_bytes)
		snprintf(o->detail, sizeof o->detail,
			 "a VESC frame started but never completed (%zu bytes): the "
			 "firmware stalled mid-reply or the link drops bytes", p->pending_at_end);
	else
		snprintf(o->detail, sizeof o->detail,
			 "%lu bytes but no valid frame (%u CRC errors): wrong baud rate, "
			 "a bad ground or line noise", p->rx_bytes, p->dec->stats.crc_errors);
}

static void describe(struct run_port *p, enum serial_status status, unsigned timeout_ms)
{
	p->obs->status = status;
	switch (status) {
	case SERIAL_SILENT:
		describe_silent(p, timeout_ms);
		break;
	case SERIAL_ECHO:
		copy_text(p->obs->detail, sizeof p->obs->detail,
			  "our own request came back: RX and TX are bridged (a loopback "
			  "adapter, or TX wired to RX); a VESC cannot answer through this");
		break;
	case SERIAL_OTHER:
		describe_other(p);
		break;
	case SERIAL_NOISE:
		describe_noise(p);
		break;
	default:
		break;
	}
}

/* ModemManager opens fresh 0483:5740 ports and talks AT to them without
 * locking: a reply it reads is lost to us. Say so when we see it. */
static void note_other_holder(struct run_port *p)
{
	char holder[96];
	if (p->obs->vid != 0x0483 || p->obs->pid != 0x5740 ||
	    !serial_io_find_holder(p->path, holder, sizeof holder))
		return;
	snprintf(p->obs->detail, sizeof p->obs->detail,
		 "no FW_VERSION reply, and %s also has the port open and may take the "
		 "replies: close it (ModemManager: sudo systemctl stop ModemManager), retry",
		 holder);
}

static void describe_scan(struct run_port *p)
{
	struct serial_obs *o = p->obs;
	if (p->n_noisy == 0) {
		o->status = SERIAL_SILENT;
		copy_text(o->detail, sizeof o->detail,
			  "silent at every rate 9600-921600: the VESC's UART app is off (App to "
			  "Use must include UART), TX/RX not crossed, GND missing, or no firmware");
		return;
	}
	o->status = SERIAL_NOISE;
	o->baud = p->noisy_rates[0];  /* where the bytes came: the first noisy rate */
	char rates[96] = "";
	size_t used = 0;
	for (unsigned i = 0; i < p->n_noisy && used < sizeof rates; i++)
		used += (size_t)snprintf(rates + used, sizeof rates - used, "%s%u",
					 i ? ", " : "", p->noisy_rates[i]);
	snprintf(o->detail, sizeof o->detail,
		 "bytes but no valid frame at %s baud: wrong baud (the VESC's UART rate is "
		 "not one we scan: give it with --baud), or noise and a bad ground", rates);
}

/* ---- driving the rates --------------------------------------------------- */

static vr_err start_rate(struct run_port *p, unsigned baud, size_t flush_len, unsigned wait_ms,
			 struct vr_error *e)
{
	p->baud = baud;
	vr_err rc = serial_io_set_baud(p->sp, baud, e);
	if (rc == VR_OK)
		rc = serial_io_flush_input(p->sp, e);
	if (rc != VR_OK)
		return rc;
	reset_rate_capture(p);
	p->flushed = flush_len > 0;
	queue_request(p, flush_len, serial_io_now_ms(), wait_ms);
	return VR_OK;
}

static size_t scan_flush_len(unsigned baud)
{
	size_t fits = (size_t)baud / 10u * SCAN_FLUSH_WIRE_MS / 1000u;
	return fits < VESC_FLUSH_LEN ? fits : VESC_FLUSH_LEN;
}

/* Poll wake-ups round to whole milliseconds; allow for that per step. */
#define STEP_SLACK_MS 5u

unsigned serial_probe_scan_budget_ms(unsigned timeout_ms)
{
	if (!timeout_ms)
		timeout_ms = SERIAL_PROBE_TIMEOUT_MS;
	unsigned first = serial_probe_scan_rates[0];
	unsigned total = timeout_ms + wire_ms(VESC_FW_VERSION_FRAME_LEN, first) + timeout_ms +
			 wire_ms(VESC_FLUSH_LEN + VESC_FW_VERSION_FRAME_LEN, first) + 2 * STEP_SLACK_MS;
	unsigned wait = timeout_ms < SCAN_WAIT_MS ? timeout_ms : SCAN_WAIT_MS;
	for (unsigned i = 1; i < SERIAL_PROBE_N_SCAN_RATES; i++) {
		unsigned baud = serial_probe_scan_rates[i];
		total += wait + wire_ms(scan_flush_len(baud) + VESC_FW_VERSION_FRAME_LEN, baud) +
			 STEP_SLACK_MS;
	}
	return total;
}

static void next_scan_rate(struct run_port *p, unsigned timeout_ms)
{
	p->rate_idx++;
	if (p->rate_idx >= SERIAL_PROBE_N_SCAN_RATES) {
		describe_scan(p);
		p->done = true;
		return;
	}
	unsigned baud = serial_probe_scan_rates[p->rate_idx];
	unsigned wait = timeout_ms < SCAN_WAIT_MS ? timeout_ms : SCAN_WAIT_MS;
	struct vr_error e = {0};
	if (start_rate(p, baud, scan_flush_len(baud), wait, &e) != VR_OK)
		fail_port(p, &e);
}

static void on_deadline(struct run_port *p, unsigned timeout_ms)
{
	p->pending_at_end = vesc_decoder_pending(p->dec);
	vesc_decoder_finish(p->dec);
	take_frames(p);
	if (p->done)
		return;
	if (p->rx_bytes == 0 && !p->flushed) {
		/* A stale partial frame in the firmware (FW >= 5.03 never times it
		 * out) swallows a request: flush it and ask once more. */
		p->flushed = true;
		/* From the window that just closed, not from now: however late
		 * the loop woke, a silent port costs two windows in all. */
		queue_request(p, VESC_FLUSH_LEN, p->deadline, retry_window_ms(timeout_ms));
		return;
	}
	add_stats(p);
	enum serial_status status = classify_rate(p);
	p->total_rx += p->rx_bytes;
	if (p->scan && (status == SERIAL_SILENT || status == SERIAL_NOISE)) {
		if (status == SERIAL_NOISE)
			p->noisy_rates[p->n_noisy++] = p->baud;
		next_scan_rate(p, timeout_ms);
		return;
	}
	describe(p, status, timeout_ms);
	if (status != SERIAL_ECHO)
		note_other_holder(p);
	if (p->obs->is_uart)
		p->obs->baud = p->baud;
	p->done = true;
}

static void start_port(struct run_port *p, long long t0, unsigned timeout_ms)
{
	struct vr_error e = {0};
	p->dec = malloc(sizeof *p->dec);
	if (!p->dec) {
		vr_fail(&e, VR_ERR_NOMEM, "out of memory probing %s", p->path);
		fail_port(p, &e);
		return;
	}
	vesc_decoder_init(p->dec);
	if (serial_io_open(p->path, p->baud, &p->sp, &e) != VR_OK) {
		fail_port(p, &e);
		return;
	}
	queue_request(p, 0, t0, timeout_ms);
}

static void finish_port(struct run_port *p)
{
	serial_io_close(p->sp);
	p->sp = NULL;
	free(p->dec);
	p->dec = NULL;
}

/* ---- the loop --------------------------------------------------------------- */

static unsigned fill_pollfds(struct probe_run *run, struct pollfd *fds, unsigned *index,
			     long long *next_deadline)
{
	unsigned n = 0;
	*next_deadline = LLONG_MAX;
	for (unsigned i = 0; i < run->n; i++) {
		struct run_port *p = &run->ports[i];
		if (p->done)
			continue;
		fds[n].fd = serial_io_fd(p->sp);
		fds[n].events = POLLIN;
		if (p->tx_off < p->tx_len)
			fds[n].events |= POLLOUT;
		fds[n].revents = 0;
		index[n++] = i;
		if (p->deadline < *next_deadline)
			*next_deadline = p->deadline;
	}
	return n;
}

static void run_loop(struct probe_run *run)
{
	struct pollfd fds[OBS_MAX_SERIAL];
	unsigned index[OBS_MAX_SERIAL];
	for (;;) {
		long long next_deadline;
		unsigned n = fill_pollfds(run, fds, index, &next_deadline);
		if (n == 0)
			return;
		long long wait = next_deadline - serial_io_now_ms();
		poll(fds, n, wait > 0 ? (int)wait : 0);
		for (unsigned k = 0; k < n; k++)
			if (fds[k].revents)
				handle_io(&run->ports[index[k]], fds[k].revents);
		long long now = serial_io_now_ms();
		for (unsigned k = 0; k < n; k++) {
			struct run_port *p = &run->ports[index[k]];
			if (!p->done && now >= p->deadline)
				on_deadline(p, run->timeout_ms);
		}
	}
}

vr_err serial_probe_run(const struct serial_probe_opts *opts, struct observations *obs,
			struct vr_error *err)
{
	if (opts->uart && opts->uart_baud && !serial_io_baud_supported(opts->uart_baud))
		return vr_fail(err, VR_ERR_USAGE, "--baud %u is not a standard rate (try 115200 or auto)",
			       opts->uart_baud);
	struct probe_run run = {0};
	run.timeout_ms = opts->timeout_ms ? opts->timeout_ms : SERIAL_PROBE_TIMEOUT_MS;
	run.ports = calloc(OBS_MAX_SERIAL, sizeof *run.ports);
	if (!run.ports)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory starting the serial probe");
	/* Every port's first window counts from here, so opening many ports
	 * one after the other does not stretch the probe. */
	long long t0 = serial_io_now_ms();
	build_port_list(opts, &run, obs);
	for (unsigned i = 0; i < run.n; i++)
		start_port(&run.ports[i], t0, run.timeout_ms);
	run_loop(&run);
	for (unsigned i = 0; i < run.n; i++)
		finish_port(&run.ports[i]);
	free(run.ports);
	return VR_OK;
}
