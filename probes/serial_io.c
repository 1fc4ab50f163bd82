#include "probes/serial_io.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

struct serial_port {
	int fd;
	bool exclusive;   /* we set TIOCEXCL and must clear it again */
	char path[128];
};

struct baud_entry {
	unsigned rate;
	speed_t code;
};

static const struct baud_entry baud_table[] = {
	{50, B50}, {75, B75}, {110, B110}, {134, B134}, {150, B150}, {200, B200},
	{300, B300}, {600, B600}, {1200, B1200}, {1800, B1800}, {2400, B2400},
	{4800, B4800}, {9600, B9600}, {19200, B19200}, {38400, B38400},
	{57600, B57600}, {115200, B115200}, {230400, B230400}, {460800, B460800},
	{500000, B500000}, {576000, B576000}, {921600, B921600}, {1000000, B1000000},
	{1152000, B1152000}, {1500000, B1500000}, {2000000, B2000000},
	{2500000, B2500000}, {3000000, B3000000}, {3500000, B3500000},
	{4000000, B4000000},
};

#define N_BAUDS (sizeof baud_table / sizeof baud_table[0])

static const struct baud_entry *baud_lookup(unsigned rate)
{
	for (size_t i = 0; i < N_BAUDS; i++)
		if (baud_table[i].rate == rate)
			return &baud_table[i];
	return NULL;
}

bool serial_io_baud_supported(unsigned baud)
{
	return baud_lookup(baud) != NULL;
}

long long serial_io_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int serial_io_fd(const struct serial_port *port)
{
	return port ? port->fd : -1;
}

const char *serial_io_path(const struct serial_port *port)
{
	return port ? port->path : "";
}

/* ---- who holds it ------------------------------------------------------ */

static bool read_comm(const char *pid, char *out, size_t out_size)
{
	char file[64];
	snprintf(file, sizeof file, "/proc/%s/comm", pid);
	FILE *f = fopen(file, "re");
	if (!f)
		return false;
	bool ok = fgets(out, (int)out_size, f) != NULL;
	fclose(f);
	if (ok)
		out[strcspn(out, "\n")] = '\0';
	return ok;
}

static bool pid_holds_rdev(const char *pid, dev_t rdev)
{
	char dir_path[64];
	snprintf(dir_path, sizeof dir_path, "/proc/%s/fd", pid);
	DIR *dir = opendir(dir_path);
	if (!dir)
		return false;
	bool found = false;
	struct dirent *ent;
	while (!found && (ent = readdir(dir)) != NULL) {
		if (ent->d_name[0] == '.')
			continue;
		char link[320];
		snprintf(link, sizeof link, "%s/%s", dir_path, ent->d_name);
		struct stat st;
		if (stat(link, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == rdev)
			found = true;
	}
	closedir(dir);
	return found;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

bool serial_io_find_holder(const char *path, char *out, size_t out_size)
{
	if (out_size)
		out[0] = '\0';
	struct stat target;
	if (stat(path, &target) != 0 || !S_ISCHR(target.st_mode))
		return false;
	DIR *proc = opendir("/proc");
	if (!proc)
		return false;
	char self[24];
	snprintf(self, sizeof self, "%ld", (long)getpid());
	bool found = false;
	struct dirent *ent;
	while (!found && (ent = readdir(proc)) != NULL) {
		if (!all_digits(ent->d_name) || strcmp(ent->d_name, self) == 0)
			continue;
		if (!pid_holds_rdev(ent->d_name, target.st_rdev))
			continue;
		char comm[32] = "?";
		read_comm(ent->d_name, comm, sizeof comm);
		snprintf(out, out_size, "%s (pid %s)", comm, ent->d_name);
		found = true;
	}
	closedir(proc);
	return found;
}

/* UUCP-style lock files (minicom with lockdev, some GUIs) live here. */
static bool uucp_lock_holder(const char *path, char *out, size_t out_size)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	static const char *const dirs[] = {"/run/lock", "/var/lock"};
	for (size_t i = 0; i < 2; i++) {
		char lock[256];
		snprintf(lock, sizeof lock, "%s/LCK..%s", dirs[i], base);
		FILE *f = fopen(lock, "re");
		if (!f)
			continue;
		long pid = 0;
		char text[32] = "";
		if (fgets(text, sizeof text, f))
			pid = strtol(text, NULL, 10);
		fclose(f);
		/* A stale lock of a dead process holds nothing. */
		if (pid <= 0 || pid == (long)getpid() || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
			continue;
		char pid_text[24], comm[32] = "?";
		snprintf(pid_text, sizeof pid_text, "%ld", pid);
		read_comm(pid_text, comm, sizeof comm);
		snprintf(out, out_size, "%s (pid %ld, lock file %s)", comm, pid, lock);
		return true;
	}
	return false;
}

static vr_err busy_error(const char *path, const char *holder, struct vr_error *err)
{
	if (holder && strncmp(holder, "ModemManager", 12) == 0)
		return vr_fail(err, VR_ERR_BUSY,
			       "%s is held by %s (EBUSY): sudo systemctl stop ModemManager, "
			       "or install the udev rule (vesc-rescue --udev-rules)", path, holder);
	if (holder && *holder)
		return vr_fail(err, VR_ERR_BUSY,
			       "%s is in use by %s (EBUSY): close that program (VESC Tool, a "
			       "terminal, another vesc-rescue) and retry", path, holder);
	return vr_fail(err, VR_ERR_BUSY,
		       "%s is in use by another program (EBUSY): close it and retry; "
		       "ModemManager often grabs 0483:5740 ports (sudo systemctl stop "
		       "ModemManager)", path);
}

/* The symbolic name people search for ("EACCES"), for the errnos we explain. */
static const char *errno_name(int errnum)
{
	switch (errnum) {
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EBUSY: return "EBUSY";
	case EWOULDBLOCK: return "EWOULDBLOCK";
	case ENOENT: return "ENOENT";
	case ENOTDIR: return "ENOTDIR";
	case ENODEV: return "ENODEV";
	case ENXIO: return "ENXIO";
	case EIO: return "EIO";
	case EPIPE: return "EPIPE";
	case ESHUTDOWN: return "ESHUTDOWN";
	case ENOTTY: return "ENOTTY";
	default: return "errno";
	}
}

vr_err serial_io_errno_error(int errnum, const char *path, const char *op,
			     struct vr_error *err)
{
	char holder[96] = "";
	const char *name = errno_name(errnum);
	switch (errnum) {
	case EACCES:
	case EPERM:
		return vr_fail(err, VR_ERR_ACCESS,
			       "%s: permission denied %s (%s): sudo usermod -aG dialout $USER and "
			       "log in again, or install the udev rule (vesc-rescue --udev-rules)",
			       path, op, name);
	case EBUSY:
	case EWOULDBLOCK:
		serial_io_find_holder(path, holder, sizeof holder);
		return busy_error(path, holder, err);
	case ENOENT:
	case ENOTDIR:
		return vr_fail(err, VR_ERR_NO_DEVICE,
			       "%s does not exist (%s): check the cable and the port name "
			       "(vesc-rescue probe lists what is attached)", path, name);
	case ENODEV:
	case ENXIO:
		return vr_fail(err, VR_ERR_NO_DEVICE,
			       "%s has no device behind it (%s; unplugged or powered off): "
			       "replug the cable and retry", path, name);
	case EIO:
	case EPIPE:
	case ESHUTDOWN:
		return vr_fail(err, VR_ERR_GONE,
			       "%s went away while %s (%s): unplugged, reset or brown-out; "
			       "check the cable and power, then retry", path, op, name);
	case ENOTTY:
		return vr_fail(err, VR_ERR_USAGE, "%s is not a serial port (%s)", path, name);
	default:
		return vr_fail(err, VR_ERR_IO, "%s %s: %s", op, path, strerror(errnum));
	}
}

/* ---- open / close -------------------------------------------------------- */

static vr_err claim_exclusive(struct serial_port *port, struct vr_error *err)
{
	char holder[128] = "";
#ifdef TIOCGEXCL
	/* Root may open a TIOCEXCL tty anyway: ask, so we do not barge in. */
	int already = 0;
	if (ioctl(port->fd, TIOCGEXCL, &already) == 0 && already) {
		serial_io_find_holder(port->path, holder, sizeof holder);
		return busy_error(port->path, holder, err);
	}
#endif
	if (flock(port->fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
		serial_io_find_holder(port->path, holder, sizeof holder);
		return busy_error(port->path, holder, err);
	}
	if (uucp_lock_holder(port->path, holder, sizeof holder))
		return busy_error(port->path, holder, err);
	if (ioctl(port->fd, TIOCEXCL) == 0)
		port->exclusive = true;
	return VR_OK;
}

static vr_err make_raw(struct serial_port *port, unsigned baud, struct vr_error *err)
{
	struct termios tio;
	if (tcgetattr(port->fd, &tio) != 0)
		return serial_io_errno_error(errno, port->path, "configuring", err);
	cfmakeraw(&tio);
	tio.c_cflag |= CLOCAL | CREAD;
	tio.c_cflag &= ~(tcflag_t)(CSTOPB | PARENB | CRTSCTS);
	tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
	/* VMIN 1 with O_NONBLOCK: no data is EAGAIN, and a read of 0 bytes
	 * then really means hangup. */
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	if (baud) {
		const struct baud_entry *b = baud_lookup(baud);
		if (!b)
			return vr_fail(err, VR_ERR_USAGE,
				       "%u baud is not a standard rate (try 115200)", baud);
		cfsetspeed(&tio, b->code);
	}
	if (tcsetattr(port->fd, TCSANOW, &tio) != 0)
		return serial_io_errno_error(errno, port->path, "configuring", err);
	return VR_OK;
}

vr_err serial_io_open(const char *path, unsigned baud, struct serial_port **out,
		      struct vr_error *err)
{
	*out = NULL;
	if (!path || !*path)
		return vr_fail(err, VR_ERR_USAGE, "empty serial port name");
	if (strlen(path) >= sizeof ((struct serial_port *)0)->path)
		return vr_fail(err, VR_ERR_USAGE, "serial port name too long: %.60s...", path);
	if (baud && !serial_io_baud_supported(baud))
		return vr_fail(err, VR_ERR_USAGE, "%u baud is not a standard rate (try 115200)", baud);
	struct serial_port *port = calloc(1, sizeof *port);
	if (!port)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory opening %s", path);
	snprintf(port->path, sizeof port->path, "%s", path);
	port->fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (port->fd < 0) {
		vr_err rc = serial_io_errno_error(errno, path, "opening", err);
		free(port);
		return rc;
	}
	if (!isatty(port->fd)) {
		serial_io_close(port);
		return vr_fail(err, VR_ERR_USAGE, "%s is not a serial port", path);
	}
	vr_err rc = claim_exclusive(port, err);
	if (rc == VR_OK)
		rc = make_raw(port, baud, err);
	if (rc == VR_OK)
		rc = serial_io_flush_input(port, err);
	if (rc != VR_OK) {
		serial_io_close(port);
		return rc;
	}
	*out = port;
	return VR_OK;
}

void serial_io_close(struct serial_port *port)
{
	if (!port)
		return;
	if (port->fd >= 0) {
		/* The flag outlives our fd while others hold the tty open (a pty's
		 * master side keeps it): clear it so the next opener is not refused. */
		if (port->exclusive)
			ioctl(port->fd, TIOCNXCL);
		close(port->fd);
	}
	free(port);
}

/* ---- settings ------------------------------------------------------------ */

vr_err serial_io_set_baud(struct serial_port *port, unsigned baud, struct vr_error *err)
{
	const struct baud_entry *b = baud_lookup(baud);
	if (!b)
		return vr_fail(err, VR_ERR_USAGE, "%u baud is not a standard rate (try 115200)", baud);
	struct termios tio;
	if (tcgetattr(port->fd, &tio) != 0)
		return serial_io_errno_error(errno, port->path, "configuring", err);
	cfsetspeed(&tio, b->code);
	if (tcsetattr(port->fd, TCSANOW, &tio) != 0)
		return serial_io_errno_error(errno, port->path, "configuring", err);
	return VR_OK;
}

unsigned serial_io_get_baud(const struct serial_port *port)
{
	struct termios tio;
	if (!port || tcgetattr(port->fd, &tio) != 0)
		return 0;
	speed_t code = cfgetospeed(&tio);
	for (size_t i = 0; i < N_BAUDS; i++)
		if (baud_table[i].code == code)
			return baud_table[i].rate;
	return 0;
}

vr_err serial_io_flush_input(struct serial_port *port, struct vr_error *err)
{
	if (tcflush(port->fd, TCIFLUSH) != 0)
		return serial_io_errno_error(errno, port->path, "flushing", err);
	return VR_OK;
}

size_t serial_io_output_pending(const struct serial_port *port)
{
	int queued = 0;
	if (!port || ioctl(port->fd, TIOCOUTQ, &queued) != 0 || queued < 0)
		return 0;
	return (size_t)queued;
}

/* ---- transfers ----------------------------------------------------------- */

vr_err serial_io_write_some(struct serial_port *port, const void *buf, size_t len,
			    size_t *done, struct vr_error *err)
{
	*done = 0;
	if (len == 0)
		return VR_OK;
	ssize_t n = write(port->fd, buf, len);
	if (n >= 0) {
		*done = (size_t)n;
		return VR_OK;
	}
	if (errno == EAGAIN || errno == EINTR)
		return VR_OK;
	return serial_io_errno_error(errno, port->path, "writing", err);
}

vr_err serial_io_read_some(struct serial_port *port, void *buf, size_t cap,
			   size_t *got, struct vr_error *err)
{
	*got = 0;
	if (cap == 0)
		return VR_OK;
	ssize_t n = read(port->fd, buf, cap);
	if (n > 0) {
		*got = (size_t)n;
		return VR_OK;
	}
	if (n == 0)
		return vr_fail(err, VR_ERR_GONE,
			       "%s hung up (unplugged, reset or brown-out): check the cable "
			       "and power, then retry", port->path);
	if (errno == EAGAIN || errno == EINTR)
		return VR_OK;
	return serial_io_errno_error(errno, port->path, "reading", err);
}

static int remaining_ms(long long deadline)
{
	long long left = deadline - serial_io_now_ms();
	return left > 0 ? (int)left : 0;
}

/* Waits for events on the port; 0 revents on timeout. */
static vr_err wait_port(struct serial_port *port, short events, int timeout_ms,
			short *revents, struct vr_error *err)
{
	struct pollfd pfd = {.fd = port->fd, .events = events};
	*revents = 0;
	int n = poll(&pfd, 1, timeout_ms);
	if (n < 0 && errno != EINTR)
		return serial_io_errno_error(errno, port->path, "waiting on", err);
	if (n > 0)
		*revents = pfd.revents;
	return VR_OK;
}

vr_err serial_io_write_all(struct serial_port *port, const void *buf, size_t len,
			   unsigned timeout_ms, struct vr_error *err)
{
	const unsigned char *bytes = buf;
	long long deadline = serial_io_now_ms() + timeout_ms;
	size_t sent = 0;
	while (sent < len) {
		size_t done;
		vr_err rc = serial_io_write_some(port, bytes + sent, len - sent, &done, err);
		if (rc != VR_OK)
			return rc;
		sent += done;
		if (sent == len)
			break;
		int left = remaining_ms(deadline);
		if (left == 0)
			return vr_fail(err, VR_ERR_TIMEOUT,
				       "%s took no more data after %zu of %zu bytes in %u ms: "
				       "the device is not reading (flow control, or stalled)",
				       port->path, sent, len, timeout_ms);
		short revents;
		rc = wait_port(port, POLLOUT, left, &revents, err);
		if (rc != VR_OK)
			return rc;
		if (revents & (POLLERR | POLLNVAL))
			return serial_io_errno_error(EIO, port->path, "writing", err);
	}
	return VR_OK;
}

vr_err serial_io_read(struct serial_port *port, void *buf, size_t cap,
		      unsigned timeout_ms, size_t *got, struct vr_error *err)
{
	*got = 0;
	long long deadline = serial_io_now_ms() + timeout_ms;
	for (;;) {
		vr_err rc = serial_io_read_some(port, buf, cap, got, err);
		if (rc != VR_OK || *got > 0)
			return rc;
		int left = remaining_ms(deadline);
		if (left == 0)
			return VR_OK;
		short revents;
		rc = wait_port(port, POLLIN, left, &revents, err);
		if (rc != VR_OK)
			return rc;
		/* POLLHUP with data still queued: read it first. */
		if ((revents & (POLLHUP | POLLERR)) && !(revents & POLLIN))
			return serial_io_errno_error(EIO, port->path, "reading", err);
	}
}
