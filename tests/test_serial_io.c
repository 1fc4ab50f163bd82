/* The raw termios path on real pseudo-terminals: open errors and their
 * messages, exclusivity, raw bytes both ways, hangup, deadlines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "probes/serial_io.h"

struct pty {
	int master;
	char slave[64];
};

static void pty_open(struct pty *p)
{
	p->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(p->master >= 0);
	assert_int_equal(grantpt(p->master), 0);
	assert_int_equal(unlockpt(p->master), 0);
	assert_int_equal(ptsname_r(p->master, p->slave, sizeof p->slave), 0);
}

static void pty_close(struct pty *p)
{
	if (p->master >= 0)
		close(p->master);
	p->master = -1;
}

/* Reads from the master until n bytes or 1 s. */
static size_t master_read(struct pty *p, uint8_t *buf, size_t n)
{
	size_t have = 0;
	long long deadline = serial_io_now_ms() + 1000;
	int flags = fcntl(p->master, F_GETFL);
	fcntl(p->master, F_SETFL, flags | O_NONBLOCK);
	while (have < n && serial_io_now_ms() < deadline) {
		ssize_t r = read(p->master, buf + have, n - have);
		if (r > 0)
			have += (size_t)r;
		else
			usleep(1000);
	}
	fcntl(p->master, F_SETFL, flags);
	return have;
}

static void open_missing_is_no_device(void **state)
{
	(void)state;
	struct serial_port *port = NULL;
	struct vr_error err = {0};
	assert_int_equal(serial_io_open("/dev/ttyDOES_NOT_EXIST", 115200, &port, &err),
			 VR_ERR_NO_DEVICE);
	assert_null(port);
	assert_non_null(strstr(err.msg, "/dev/ttyDOES_NOT_EXIST"));
}

static void open_regular_file_is_not_a_port(void **state)
{
	(void)state;
	char path[] = "/tmp/vr-serial-io-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct serial_port *port = NULL;
	struct vr_error err = {0};
	assert_int_equal(serial_io_open(path, 115200, &port, &err), VR_ERR_USAGE);
	assert_non_null(strstr(err.msg, "not a serial port"));
	unlink(path);
}

static void errno_mapping_is_actionable(void **state)
{
	(void)state;
	struct vr_error err = {0};
	assert_int_equal(serial_io_errno_error(EACCES, "/dev/ttyACM0", "opening", &err),
			 VR_ERR_ACCESS);
	assert_non_null(strstr(err.msg, "sudo usermod -aG dialout $USER"));
	assert_int_equal(serial_io_errno_error(ENOENT, "/dev/ttyACM0", "opening", &err),
			 VR_ERR_NO_DEVICE);
	assert_int_equal(serial_io_errno_error(ENXIO, "/dev/ttyACM0", "opening", &err),
			 VR_ERR_NO_DEVICE);
	assert_int_equal(serial_io_errno_error(ENODEV, "/dev/ttyACM0", "opening", &err),
			 VR_ERR_NO_DEVICE);
	assert_int_equal(serial_io_errno_error(EIO, "/dev/ttyACM0", "reading", &err),
			 VR_ERR_GONE);
	assert_int_equal(serial_io_errno_error(EBUSY, "/dev/ttyACM0", "opening", &err),
			 VR_ERR_BUSY);
	assert_non_null(strstr(err.msg, "ModemManager"));
	assert_int_equal(serial_io_errno_error(EINVAL, "/dev/ttyACM0", "opening", &err),
			 VR_ERR_IO);
}

/* A tty nobody may open (mode 0); root ignores file modes, so as root the
 * open runs in a child that dropped to nobody. The real open() path must
 * give the dialout hint. */
static void open_without_permission_is_access(void **state)
{
	(void)state;
	struct pty p;
	pty_open(&p);
	assert_int_equal(chmod(p.slave, 0), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		if (getuid() == 0 && (setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
				      setuid(65534) != 0))
			_exit(2);
		struct serial_port *port = NULL;
		struct vr_error err = {0};
		vr_err rc = serial_io_open(p.slave, 115200, &port, &err);
		_exit(rc == VR_ERR_ACCESS && strstr(err.msg, "dialout") ? 0 : 1);
	}
	int status = 0;
	waitpid(child, &status, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	pty_close(&p);
}

static void busy_when_another_process_holds_it_exclusively(void **state)
{
	(void)state;
	struct pty p;
	pty_open(&p);
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int fd = open(p.slave, O_RDWR | O_NOCTTY);
		if (fd < 0 || ioctl(fd, TIOCEXCL) != 0)
			_exit(1);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	struct serial_port *port = NULL;
	struct vr_error err = {0};
	assert_int_equal(serial_io_open(p.slave, 115200, &port, &err), VR_ERR_BUSY);
	assert_null(port);
	char pid_text[32];
	snprintf(pid_text, sizeof pid_text, "pid %ld", (long)child);
	assert_non_null(strstr(err.msg, pid_text));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	pty_close(&p);
}

static void busy_when_flocked(void **state)
{
	(void)state;
	struct pty p;
	pty_open(&p);
	int other = open(p.slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(other >= 0);
	assert_int_equal(flock(other, LOCK_EX | LOCK_NB), 0);
	struct serial_port *port = NULL;
	struct vr_error err = {0};
	assert_int_equal(serial_io_open(p.slave, 115200, &port, &err), VR_ERR_BUSY);
	close(other);
	/* the lock went with the other descriptor */
	assert_int_equal(serial_io_open(p.slave, 115200, &port, &err), VR_OK);
	serial_io_close(port);
	pty_close(&p);
}

static void exclusive_while_open_and_released_on_close(void **state)
{
	(void)state;
	struct pty p;
	pty_open(&p);
	struct serial_port *a = NULL, *b = NULL;
	struct vr_error err = {0};
	assert_int_equal(serial_io_open(p.slave, 115200, &a, &err), VR_OK);
	assert_int_equal(serial_io_open(p.slave, 115200, &b, &err), VR_ERR_BUSY);
	serial_io_close(a);
	assert_int_equal(serial_io_open(p.slave, 115200, &b, &err), VR_OK);
	serial_io_close(b);
	pty_close(&p);
}

static void raw_mode_keeps_every_byte(void **state)
{
	(void)state;
	struct pty p;
	pty_open(&p);
	struct serial_port *port = NULL;
	struct vr_error err = {0};
	assert_int_equal(serial_io_open(p.slave, 115200, &port, &err), VR_OK);

	uint8_t all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	assert_int_equal(write(p.master, all, sizeof all), (ssize_t)sizeof all);
	uint8_t in[300];
	size_t have = 0;
	while (have < sizeof all) {
		size_t got;
		assert_int_equal(serial_io_read(port, in + have, sizeof in - have, 500, &got, &err),
				 VR_OK);
		assert_true(got > 0);
		have += got;
	}
	assert_int_equal(have, sizeof all);
	assert_memory_equal(in, all, sizeof all);

	/* host -> device: 0x0A must not become 0D 0A, 0x03 must survive */
	const uint8_t frame[] = {0x02, 0x01, 0x00, 0x00, 0x00, 0x03, 0x0A, 0x0D, 0x11, 0x13};
	assert_int_equal(serial_io_write_all(port, frame, sizeof frame, 500, &err), VR_OK);
	uint8_t out[sizeof frame + 4];
	assert_int_equal(master_read(&p, out, sizeof frame), sizeof frame);
	assert_memory_equal(out, frame, sizeof frame);
	/* and nothing extra came after */
	assert_int_equal(master_read(&p, out, 1), 0);
	serial_io_close(port);
	pty_close(&p);
}

static void baud_is_set_and_checked(void **state)
{
	(void)state;
	struct pty p;
	pty_open(&p);
	struct serial_port *port = NULL;
	struct vr_error err = {0};
	assert_int_equal(serial_io_open(p.slave, 9600, &port, &err), VR_OK);
	assert_int_equal(serial_io_get_baud(port), 9600);
	assert_int_equal(serial_io_set_baud(port, 921600, &err), VR_OK);
	assert_int_equal(serial_io_get_baud(port), 921600);
	assert_int_equal(serial_io_set_baud(port, 12345, &err), VR_ERR_USAGE);
	assert_int_equal(serial_io_get_baud(port), 921600);
	assert_true(serial_io_baud_supported(115200));
	assert_false(serial_io_baud_supported(0));
	serial_io_close(port);
	struct serial_port *none = NULL;
	assert_int_equal(serial_io_open(p.slave, 12345, &none, &err), VR_ERR_USAGE);
	pty_close(&p);
}

static void silence_returns_after_the_deadline(void **state)
{
	(void)state;
	struct pty p;
	pty_open(&p);
	struct serial_port *port = NULL;
	struct vr_error err = {0};
	assert_int_equal(serial_io_open(p.slave, 115200, &port, &err), VR_OK);
	uint8_t buf[16];
	size_t got = 99;
	long long t0 = serial_io_now_ms();
	assert_int_equal(serial_io_read(port, buf, sizeof buf, 120, &got, &err), VR_OK);
	long long took = serial_io_now_ms() - t0;
	assert_int_equal(got, 0);
	assert_true(took >= 115 && took < 400);
	serial_io_close(port);
	pty_close(&p);
}

static void stale_input_is_flushed_on_open(void **state)
{
	(void)state;
	struct pty p;
	pty_open(&p);
	struct serial_port *port = NULL;
	struct vr_error err = {0};
	assert_int_equal(serial_io_open(p.slave, 115200, &port, &err), VR_OK);
	assert_int_equal(write(p.master, "stale", 5), 5);
	usleep(20000);
	assert_int_equal(serial_io_flush_input(port, &err), VR_OK);
	uint8_t buf[16];
	size_t got = 99;
	assert_int_equal(serial_io_read(port, buf, sizeof buf, 50, &got, &err), VR_OK);
	assert_int_equal(got, 0);
	serial_io_close(port);
	pty_close(&p);
}

static void hangup_is_gone(void **state)
{
	(void)state;
	struct pty p;
	pty_open(&p);
	struct serial_port *port = NULL;
	struct vr_error err = {0};
	assert_int_equal(serial_io_open(p.slave, 115200, &port, &err), VR_OK);
	pty_close(&p);
	uint8_t buf[16];
	size_t got;
	assert_int_equal(serial_io_read(port, buf, sizeof buf, 200, &got, &err), VR_ERR_GONE);
	assert_int_equal(err.code, VR_ERR_GONE);
	assert_int_equal(serial_io_write_all(port, "x", 1, 100, &err), VR_ERR_GONE);
	serial_io_close(port);
}

static void write_to_a_stalled_device_times_out(void **state)
{
	(void)state;
	struct pty p;
	pty_open(&p);
	struct serial_port *port = NULL;
	struct vr_error err = {0};
	assert_int_equal(serial_io_open(p.slave, 115200, &port, &err), VR_OK);
	size_t big = 1 << 20;
	uint8_t *buf = calloc(1, big);
	assert_non_null(buf);
	long long t0 = serial_io_now_ms();
	assert_int_equal(serial_io_write_all(port, buf, big, 100, &err), VR_ERR_TIMEOUT);
	assert_true(serial_io_now_ms() - t0 < 500);
	free(buf);
	serial_io_close(port);
	pty_close(&p);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open_missing_is_no_device),
		cmocka_unit_test(open_regular_file_is_not_a_port),
		cmocka_unit_test(errno_mapping_is_actionable),
		cmocka_unit_test(open_without_permission_is_access),
		cmocka_unit_test(busy_when_another_process_holds_it_exclusively),
		cmocka_unit_test(busy_when_flocked),
		cmocka_unit_test(exclusive_while_open_and_released_on_close),
		cmocka_unit_test(raw_mode_keeps_every_byte),
		cmocka_unit_test(baud_is_set_and_checked),
		cmocka_unit_test(silence_returns_after_the_deadline),
		cmocka_unit_test(stale_input_is_flushed_on_open),
		cmocka_unit_test(hangup_is_gone),
		cmocka_unit_test(write_to_a_stalled_device_times_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
