#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct err_entry {
	const char *name;
	const char *sentence;
	int exit_status;
};

static const struct err_entry err_table[VR_ERR_COUNT_] = {
	[VR_OK] = {"VR_OK", "success", VR_EXIT_OK},
	[VR_ERR_USAGE] = {"VR_ERR_USAGE", "invalid command line", VR_EXIT_USAGE},
	[VR_ERR_INPUT] = {"VR_ERR_INPUT", "bad input file", VR_EXIT_INPUT},
	[VR_ERR_NO_DEVICE] = {"VR_ERR_NO_DEVICE", "device not found or not reachable", VR_EXIT_UNREACHABLE},
	[VR_ERR_TIMEOUT] = {"VR_ERR_TIMEOUT", "the device did not answer in time", VR_EXIT_UNREACHABLE},
	[VR_ERR_GONE] = {"VR_ERR_GONE", "the device disappeared", VR_EXIT_UNREACHABLE},
	[VR_ERR_ACCESS] = {"VR_ERR_ACCESS", "permission denied", VR_EXIT_ACCESS},
	[VR_ERR_BUSY] = {"VR_ERR_BUSY", "the device is in use by another program", VR_EXIT_BUSY},
	[VR_ERR_CONFIRM] = {"VR_ERR_CONFIRM", "confirmation needed or refused", VR_EXIT_CONFIRM},
	[VR_ERR_UNRECOVERABLE] = {"VR_ERR_UNRECOVERABLE", "cannot be recovered from here", VR_EXIT_UNRECOVERABLE},
	[VR_ERR_UNSUPPORTED] = {"VR_ERR_UNSUPPORTED", "not supported by this device", VR_EXIT_UNRECOVERABLE},
	[VR_ERR_PROTECTED] = {"VR_ERR_PROTECTED", "the flash is read or write protected", VR_EXIT_FAILED},
	[VR_ERR_FAULT] = {"VR_ERR_FAULT", "the target reported a fault", VR_EXIT_FAILED},
	[VR_ERR_IO] = {"VR_ERR_IO", "input/output error", VR_EXIT_FAILED},
	[VR_ERR_OPERATION] = {"VR_ERR_OPERATION", "the operation failed", VR_EXIT_FAILED},
	[VR_ERR_INTERRUPTED] = {"VR_ERR_INTERRUPTED", "interrupted by a signal", VR_EXIT_INTERRUPTED},
	[VR_ERR_NOMEM] = {"VR_ERR_NOMEM", "out of memory", VR_EXIT_INTERNAL},
	[VR_ERR_INTERNAL] = {"VR_ERR_INTERNAL", "internal error (a bug: please report it)", VR_EXIT_INTERNAL},
};

static const struct err_entry *entry_for(vr_err code)
{
	if ((unsigned)code >= VR_ERR_COUNT_)
		code = VR_ERR_INTERNAL;
	return &err_table[code];
}

const char *vr_err_name(vr_err code)
{
	return entry_for(code)->name;
}

const char *vr_err_str(vr_err code)
{
	return entry_for(code)->sentence;
}

int vr_err_exit_status(vr_err code)
{
	return entry_for(code)->exit_status;
}

vr_err vr_fail(struct vr_error *err, vr_err code, const char *fmt, ...)
{
	if (!err)
		return code;
	err->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return code;
}

vr_err vr_wrap(struct vr_error *err, const char *fmt, ...)
{
	if (!err)
		return VR_ERR_INTERNAL;
	char prefix[VR_ERROR_MSG_MAX];
	char old[VR_ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	old[sizeof old - 1] = '\0';
	/* Truncation is expected and harmless: the message is for people. */
	size_t used = strlen(prefix);
	memcpy(err->msg, prefix, used + 1);
	if (used + 2 < sizeof err->msg) {
		memcpy(err->msg + used, ": ", 3);
		used += 2;
		size_t room = sizeof err->msg - 1 - used;
		size_t tail = strlen(old);
		if (tail > room)
			tail = room;
		memcpy(err->msg + used, old, tail);
		err->msg[used + tail] = '\0';
	}
	return err->code;
}

void vr_error_clear(struct vr_error *err)
{
	if (!err)
		return;
	err->code = VR_OK;
	err->msg[0] = '\0';
}
