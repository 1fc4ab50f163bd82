#include "transcript.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

vr_err transcript_open(struct transcript *t, const char *path, struct vr_error *err)
{
	t->file = NULL;
	if (!path)
		return VR_OK;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		if (e == ELOOP)
			return vr_fail(err, VR_ERR_USAGE, "--log %s is a symbolic link: refused (give the real "
				       "path)", path);
		return vr_fail(err, e == EACCES ? VR_ERR_ACCESS : VR_ERR_IO, "cannot open the log %s: %s", path,
			       strerror(e));
	}
	t->file = fdopen(fd, "a");
	if (!t->file) {
		close(fd);
		return vr_fail(err, VR_ERR_NOMEM, "cannot open the log %s", path);
	}
	return VR_OK;
}

void transcript_line(struct transcript *t, const char *line)
{
	if (!t || !t->file)
		return;
	time_t now = time(NULL);
	struct tm tm;
	char stamp[32];
	localtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(t->file, "%s %s\n", stamp, line);
	fflush(t->file);
}

void transcript_close(struct transcript *t)
{
	if (t && t->file)
		fclose(t->file);
	if (t)
		t->file = NULL;
}
