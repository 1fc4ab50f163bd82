/* The serial/UART probe (CONTRACTS.md §6): one COMM_FW_VERSION request per
 * port, every port at once in one poll loop, a bounded wait, the decoder
 * flush and one more request for ports that stayed silent, and a verdict
 * per port in struct serial_obs: vesc, silent, noise, echo, other, error.
 *
 * Read-only towards the VESC: besides FW_VERSION requests it sends only
 * zero bytes (the flush), which no firmware decoder can act on. */
#ifndef VR_PROBES_SERIAL_PROBE_H
#define VR_PROBES_SERIAL_PROBE_H

#include <stdbool.h>

#include "errors.h"
#include "observe.h"

#define SERIAL_PROBE_TIMEOUT_MS 250u
/* Rates of the --baud auto scan, the VESC default first. */
#define SERIAL_PROBE_N_SCAN_RATES 8u
extern const unsigned serial_probe_scan_rates[SERIAL_PROBE_N_SCAN_RATES];

struct serial_probe_opts {
	const char *const *ports;   /* --port PATH..., probed even when not USB */
	unsigned n_ports;
	bool enumerate;             /* add listed ports that could be a VESC:
				       0483:5740 and USB-UART bridges */
	const char *uart;           /* --uart PATH, or NULL */
	unsigned uart_baud;         /* 0: scan (--baud auto); CDC ignores rates */
	unsigned timeout_ms;        /* reply wait per request; 0 means 250 */
};

/* The longest a --baud auto scan of one silent port is planned to take at
 * this timeout (0 means the default), including wire time at each rate
 * and a little scheduling slack: CONTRACTS.md §6 allows 2 s. */
unsigned serial_probe_scan_budget_ms(unsigned timeout_ms);

/* Appends one serial_obs per port to obs->serial. Per-port failures are
 * observations (status error with the fix), not a failed run; the return
 * is VR_ERR_USAGE for bad options (unsupported baud) and VR_ERR_NOMEM. */
vr_err serial_probe_run(const struct serial_probe_opts *opts, struct observations *obs,
			struct vr_error *err);

#endif
