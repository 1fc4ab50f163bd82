/* Error codes shared by every module, with a name, a sentence, and the exit
 * status of their class (../shared/CONTRACTS.md §3).
 *
 * Functions return a vr_err and, when they fail, fill a struct vr_error with
 * a message the person can act on ("udev rule missing: run ..."), not just
 * what went wrong. */
#ifndef VR_ERRORS_H
#define VR_ERRORS_H

#include <stddef.h>

typedef enum vr_err {
	VR_OK = 0,
	VR_ERR_USAGE,         /* bad command line                          -> 2 */
	VR_ERR_INPUT,         /* bad input file                            -> 3 */
	VR_ERR_NO_DEVICE,     /* nothing there, unpowered, wiring          -> 4 */
	VR_ERR_TIMEOUT,       /* a device stayed silent                    -> 4 */
	VR_ERR_GONE,          /* a device vanished mid-transfer            -> 4 */
	VR_ERR_ACCESS,        /* permission denied (udev, dialout)         -> 5 */
	VR_ERR_BUSY,          /* another program holds the device          -> 6 */
	VR_ERR_CONFIRM,       /* confirmation needed or refused            -> 7 */
	VR_ERR_UNRECOVERABLE, /* RDP2, dead MCU, unknown MCU               -> 8 */
	VR_ERR_UNSUPPORTED,   /* the device cannot do this                 -> 8 */
	VR_ERR_PROTECTED,     /* RDP1 / WRP stands in the way              -> 9 */
	VR_ERR_FAULT,         /* the target answered with a fault          -> 9 */
	VR_ERR_IO,            /* a transfer or file operation failed       -> 9 */
	VR_ERR_OPERATION,     /* erase, write, verify or backup failed     -> 9 */
	VR_ERR_INTERRUPTED,   /* a signal; the block in hand was finished  -> 10 */
	VR_ERR_NOMEM,         /* out of memory                             -> 70 */
	VR_ERR_INTERNAL,      /* a bug                                     -> 70 */
	VR_ERR_COUNT_
} vr_err;

/* Exit statuses (CONTRACTS.md §3). */
enum vr_exit {
	VR_EXIT_OK = 0,
	VR_EXIT_USAGE = 2,
	VR_EXIT_INPUT = 3,
	VR_EXIT_UNREACHABLE = 4,
	VR_EXIT_ACCESS = 5,
	VR_EXIT_BUSY = 6,
	VR_EXIT_CONFIRM = 7,
	VR_EXIT_UNRECOVERABLE = 8,
	VR_EXIT_FAILED = 9,
	VR_EXIT_INTERRUPTED = 10,
	VR_EXIT_INTERNAL = 70
};

#define VR_ERROR_MSG_MAX 320

struct vr_error {
	vr_err code;
	char msg[VR_ERROR_MSG_MAX];
};

/* "VR_ERR_TIMEOUT" */
const char *vr_err_name(vr_err code);
/* "the device did not answer in time" */
const char *vr_err_str(vr_err code);
int vr_err_exit_status(vr_err code);

/* Records code and a formatted message in err (which may be NULL) and
 * returns code, so a failing path reads: return vr_fail(err, VR_ERR_IO, ...). */
vr_err vr_fail(struct vr_error *err, vr_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes err->msg with context ("reading sector 3: ") and returns err->code. */
vr_err vr_wrap(struct vr_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void vr_error_clear(struct vr_error *err);

#endif
