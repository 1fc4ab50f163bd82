/* The one raw-mode termios path for every serial port, real or pseudo-
 * terminal: the tests and --sim go through exactly the code users run.
 *
 * Ports are opened non-blocking and raw (cooked mode would eat 0x03 as
 * Ctrl-C and turn 0x0A into 0x0D 0x0A). Callers that drive many ports at
 * once use serial_io_fd() with their own poll loop and the *_some calls;
 * single-port callers use the deadline-bounded read/write calls. */
#ifndef VR_PROBES_SERIAL_IO_H
#define VR_PROBES_SERIAL_IO_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

struct serial_port;

/* Opens path raw, 8N1, at baud (0 leaves the current rate), takes
 * TIOCEXCL and a non-blocking flock, and discards stale input.
 * Failures: VR_ERR_NO_DEVICE (missing), VR_ERR_ACCESS (dialout hint),
 * VR_ERR_BUSY (names the holder when /proc tells it), VR_ERR_USAGE (not a
 * terminal, unsupported baud), VR_ERR_IO. */
vr_err serial_io_open(const char *path, unsigned baud, struct serial_port **out,
		      struct vr_error *err);
/* Releases exclusivity and the lock, closes. NULL is fine. */
void serial_io_close(struct serial_port *port);

int serial_io_fd(const struct serial_port *port);
const char *serial_io_path(const struct serial_port *port);

/* Any standard rate from 50 to 4000000; CDC ports accept and ignore it. */
vr_err serial_io_set_baud(struct serial_port *port, unsigned baud, struct vr_error *err);
bool serial_io_baud_supported(unsigned baud);
/* The rate the port is set to now (from termios), 0 if unknown. */
unsigned serial_io_get_baud(const struct serial_port *port);

/* Discards bytes received but not yet read. */
vr_err serial_io_flush_input(struct serial_port *port, struct vr_error *err);
/* Bytes written but not yet sent by the driver (0 when unknown). */
size_t serial_io_output_pending(const struct serial_port *port);

/* Non-blocking: *done / *got say how much moved (possibly 0).
 * VR_ERR_GONE when the device hung up or vanished. */
vr_err serial_io_write_some(struct serial_port *port, const void *buf, size_t len,
			    size_t *done, struct vr_error *err);
vr_err serial_io_read_some(struct serial_port *port, void *buf, size_t cap,
			   size_t *got, struct vr_error *err);

/* Writes all of buf before timeout_ms or fails with VR_ERR_TIMEOUT. */
vr_err serial_io_write_all(struct serial_port *port, const void *buf, size_t len,
			   unsigned timeout_ms, struct vr_error *err);
/* Waits up to timeout_ms for the first bytes, returns what is there
 * (*got may be 0 on timeout: that is VR_OK, silence is an answer). */
vr_err serial_io_read(struct serial_port *port, void *buf, size_t cap,
		      unsigned timeout_ms, size_t *got, struct vr_error *err);

/* What an errno from open/read/write means for the person, as a vr_err
 * with an actionable message. op is "opening", "reading", "writing". */
vr_err serial_io_errno_error(int errnum, const char *path, const char *op,
			     struct vr_error *err);

/* Who else holds the tty at path open, from /proc: "ModemManager (pid
 * 812)". Writes "" and returns false when nobody else is found. */
bool serial_io_find_holder(const char *path, char *out, size_t out_size);

/* Milliseconds on the monotonic clock. */
long long serial_io_now_ms(void);

#endif
