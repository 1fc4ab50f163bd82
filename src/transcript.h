/* The human transcript (--log FILE): every line the run logs, with a
 * timestamp, appended to a file created 0600 that may not be a symbolic
 * link. The same for the dashboard, recover and the single commands. */
#ifndef VR_TRANSCRIPT_H
#define VR_TRANSCRIPT_H

#include <stdio.h>

#include "errors.h"

struct transcript {
	FILE *file;   /* NULL: no --log */
};

/* path NULL: nothing to open. A symlink at path is VR_ERR_USAGE. */
vr_err transcript_open(struct transcript *t, const char *path, struct vr_error *err);
void transcript_line(struct transcript *t, const char *line);
void transcript_close(struct transcript *t);

#endif
