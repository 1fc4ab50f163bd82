#include "backup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc.h"
#include "json.h"
#include "stm32f4.h"
#include "version.h"

#define READ_CHUNK (16u * 1024u)

void backup_init(struct backup *b)
{
	memset(b, 0, sizeof *b);
}

void backup_free(struct backup *b)
{
	free(b->flash);
	b->flash = NULL;
}

static vr_err make_dirs(char *path, struct vr_error *err)
{
	/* Every parent of the file, mode 0700: backups hold a customer's
	 * configuration and are nobody else's business. */
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = mkdir(path, 0700);
		int saved = errno;
		*p = '/';
		if (rc != 0 && saved != EEXIST)
			return vr_fail(err, saved == EACCES ? VR_ERR_ACCESS : VR_ERR_IO,
				       "cannot create the directory for backups (%.*s): %s",
				       (int)(p - path), path, strerror(saved));
	}
	return VR_OK;
}

vr_err backup_dir(char *out, size_t cap, struct vr_error *err)
{
	/* The XDG spec says relative values are invalid and must be ignored. */
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	if (xdg && xdg[0] == '/')
		snprintf(out, cap, "%s/vesc-rescue", xdg);
	else if (home && home[0] == '/')
		snprintf(out, cap, "%s/.local/state/vesc-rescue", home);
	else
		return vr_fail(err, VR_ERR_USAGE, "neither XDG_STATE_HOME nor HOME is an absolute path: "
			       "give --backup FILE");
	return VR_OK;
}

vr_err backup_default_path(const uint8_t uid[12], char *out, size_t cap, struct vr_error *err)
{
	char base[400];
	vr_err dir_rc = backup_dir(base, sizeof base, err);
	if (dir_rc)
		return dir_rc;
	char uid_hex[25];
	for (int i = 0; i < 12; i++)
		snprintf(uid_hex + 2 * i, 3, "%02x", uid[i]);
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(out, cap, "%s/backup-%s-%s.bin", base, uid_hex, stamp);
	vr_err rc = make_dirs(out, err);
	/* Two backups in one second (an erase, then a restore) get -2, -3...:
	 * a backup is never overwritten, and O_EXCL still guards a race. */
	for (unsigned n = 2; !rc && access(out, F_OK) == 0 && n < 1000; n++)
		snprintf(out, cap, "%s/backup-%s-%s-%u.bin", base, uid_hex, stamp, n);
	return rc;
}

static bool sector_readable(const struct swd_obs *survey, unsigned i)
{
	if (survey->rdp != 0)
		return false;
	enum sector_state st = survey->sectors[i].state;
	return st != SECTOR_BLANK && st != SECTOR_PROTECTED;
}

vr_err backup_read_chip(struct backup *b, struct stm32f4 *t, const struct swd_obs *survey,
			const struct run_hooks *hooks, struct vr_error *err)
{
	if (survey->rdp != 0)
		return vr_fail(err, VR_ERR_PROTECTED, "the flash is read-protected (RDP level %d): "
			       "nothing can be read to save", survey->rdp);
	if (!b->flash && !(b->flash = malloc(BACKUP_FLASH_BYTES)))
		return vr_fail(err, VR_ERR_NOMEM, "out of memory for the backup");
	memset(b->flash, 0xFF, BACKUP_FLASH_BYTES);
	uint64_t total = 0, done = 0;
	for (unsigned i = 0; i < F4_SECTORS; i++)
		if (sector_readable(survey, i))
			total += stm32f4_sector_size(i);
	struct engine_progress p = {.active = true, .total = total, .cancellable = true, .eta_s = -1};
	snprintf(p.what, sizeof p.what, "reading flash for the backup");
	for (unsigned i = 0; i < F4_SECTORS; i++) {
		b->sector_read[i] = false;
		b->sector_blank[i] = survey->sectors[i].state == SECTOR_BLANK;
		if (!sector_readable(survey, i))
			continue;
		uint32_t base = stm32f4_sector_address(i), size = stm32f4_sector_size(i);
		for (uint32_t off = 0; off < size; off += READ_CHUNK) {
			uint32_t n = size - off < READ_CHUNK ? size - off : READ_CHUNK;
			vr_err rc = stm32f4_read(t, base + off, b->flash + (base - STM32F4_FLASH_BASE) + off, n, err);
			if (rc)
				return vr_wrap(err, "reading sector %u for the backup", i);
			done += n;
			p.done = done;
			hooks_progress(hooks, &p);
		}
		b->sector_read[i] = true;
	}
	for (unsigned i = 0; i < F4_SECTORS; i++) {
		uint32_t off = stm32f4_sector_address(i) - STM32F4_FLASH_BASE;
		b->sector_crc[i] = crc32_zlib(b->flash + off, stm32f4_sector_size(i));
	}
	b->optcr = survey->optcr;
	hooks_log(hooks, "backup: read %llu bytes from %s", (unsigned long long)done,
		  done ? "the non-blank sectors" : "nothing (all blank)");
	return VR_OK;
}

static vr_err open_new(const char *path, int *fd, struct vr_error *err)
{
	*fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (*fd >= 0)
		return VR_OK;
	int e = errno;
	if (e == EEXIST)
		return vr_fail(err, VR_ERR_USAGE, "%s already exists: a backup is never overwritten; "
			       "give a new file name", path);
	return vr_fail(err, e == EACCES || e == EPERM ? VR_ERR_ACCESS : VR_ERR_IO,
		       "cannot create the backup %s: %s", path, strerror(e));
}

static vr_err write_all(int fd, const void *data, size_t len, const char *path, struct vr_error *err)
{
	const uint8_t *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return vr_fail(err, VR_ERR_IO, "writing the backup %s: %s%s", path,
				       n < 0 ? strerror(errno) : "short write",
				       errno == ENOSPC ? " (the disk is full: free space, nothing was erased)" : "");
		p += n;
		len -= (size_t)n;
	}
	return VR_OK;
}

static vr_err sync_close(int fd, const char *path, struct vr_error *err)
{
	int rc = fsync(fd);
	int e = errno;
	if (close(fd) != 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	if (rc != 0)
		return vr_fail(err, VR_ERR_IO, "syncing the backup %s: %s", path, strerror(e));
	return VR_OK;
}

static void manifest_json(FILE *out, const struct backup *b, const struct swd_obs *survey)
{
	struct json_writer w;
	json_init(&w, out, true);
	json_object_begin(&w, NULL);
	json_int(&w, "schema", 1);
	json_string(&w, "tool", "vesc-rescue " VR_VERSION);
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_string(&w, "date", when);
	char dev[8];
	snprintf(dev, sizeof dev, "0x%03x", (unsigned)survey->dev_id);
	json_string(&w, "dev_id", dev);
	json_hex_bytes(&w, "uid", survey->uid, sizeof survey->uid);
	json_uint(&w, "flash_kb", survey->flash_kb);
	json_hex32(&w, "optcr", b->optcr);
	json_int(&w, "rdp", survey->rdp);
	json_hex32(&w, "base", STM32F4_FLASH_BASE);
	json_uint(&w, "size", BACKUP_FLASH_BYTES);
	json_array_begin(&w, "sectors");
	for (unsigned i = 0; i < F4_SECTORS; i++) {
		json_object_begin(&w, NULL);
		json_uint(&w, "index", i);
		json_hex32(&w, "address", stm32f4_sector_address(i));
		json_uint(&w, "size", stm32f4_sector_size(i));
		json_string(&w, "state", sector_state_name(survey->sectors[i].state));
		json_bool(&w, "saved", b->sector_read[i]);
		json_hex32(&w, "crc32", b->sector_crc[i]);
		json_object_end(&w);
	}
	json_array_end(&w);
	json_object_begin(&w, "survey");
	json_bool(&w, "app_vector_valid", survey->app.vector_valid);
	json_bool(&w, "app_crc_ok", survey->app.crc_checked && survey->app.crc_ok);
	json_bool(&w, "bootloader_present", survey->bootloader.present);
	json_string(&w, "bootloader_kind", bl_kind_name(survey->bootloader.kind));
	json_bool(&w, "staging_pending", survey->staging.pending);
	json_object_end(&w);
	json_object_end(&w);
	json_finish(&w);
}

static vr_err write_manifest(const struct backup *b, const char *path, const struct swd_obs *survey,
			     struct vr_error *err)
{
	char mpath[560];
	snprintf(mpath, sizeof mpath, "%s.json", path);
	int fd;
	vr_err rc = open_new(mpath, &fd, err);
	if (rc)
		return rc;
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	if (!mem) {
		close(fd);
		unlink(mpath);
		return vr_fail(err, VR_ERR_NOMEM, "out of memory for the manifest");
	}
	manifest_json(mem, b, survey);
	fclose(mem);
	rc = write_all(fd, text, len, mpath, err);
	free(text);
	if (rc) {
		close(fd);
		unlink(mpath);
		return rc;
	}
	rc = sync_close(fd, mpath, err);
	if (rc)
		unlink(mpath);
	return rc;
}

static vr_err read_back_and_compare(const struct backup *b, const char *path, struct vr_error *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return vr_fail(err, VR_ERR_IO, "reading the backup back %s: %s", path, strerror(errno));
	uint8_t *copy = malloc(BACKUP_FLASH_BYTES);
	vr_err rc = copy ? VR_OK : vr_fail(err, VR_ERR_NOMEM, "out of memory");
	size_t got = 0;
	while (!rc && got < BACKUP_FLASH_BYTES) {
		ssize_t n = read(fd, copy + got, BACKUP_FLASH_BYTES - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = vr_fail(err, VR_ERR_IO, "the backup %s reads back short (%zu of %u bytes)", path,
				     got, BACKUP_FLASH_BYTES);
		else
			got += (size_t)n;
	}
	if (!rc && memcmp(copy, b->flash, BACKUP_FLASH_BYTES) != 0)
		rc = vr_fail(err, VR_ERR_IO, "the backup %s reads back different from what was "
			     "written: the disk is not trustworthy; nothing was erased", path);
	free(copy);
	close(fd);
	return rc;
}

vr_err backup_check_new(const char *path, struct vr_error *err)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return VR_OK;
	if (S_ISLNK(st.st_mode))
		return vr_fail(err, VR_ERR_USAGE, "%s is a symbolic link: refused (a backup is written only "
			       "as a new file, never through a link)", path);
	return vr_fail(err, VR_ERR_USAGE, "%s already exists: a backup is never overwritten; give a "
		       "new file name", path);
}

vr_err backup_save(struct backup *b, const char *path, const struct swd_obs *survey, struct vr_error *err)
{
	b->verified = false;
	snprintf(b->path, sizeof b->path, "%s", path);
	int fd;
	vr_err rc = open_new(path, &fd, err);
	if (rc)
		return rc;
	rc = write_all(fd, b->flash, BACKUP_FLASH_BYTES, path, err);
	if (rc) {
		close(fd);
		unlink(path);
		return rc;
	}
	rc = sync_close(fd, path, err);
	if (!rc)
		rc = write_manifest(b, path, survey, err);
	if (!rc)
		rc = read_back_and_compare(b, path, err);
	if (rc) {
		unlink(path);
		return rc;
	}
	b->verified = true;
	return VR_OK;
}

vr_err backup_load(struct backup *b, const char *path, struct vr_error *err)
{
	uint8_t *data = NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return vr_fail(err, errno == EACCES ? VR_ERR_ACCESS : VR_ERR_INPUT,
			       "cannot open the backup %s: %s", path, strerror(errno));
	struct stat st;
	vr_err rc = VR_OK;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		rc = vr_fail(err, VR_ERR_INPUT, "%s is not a regular file", path);
	else if (st.st_size != BACKUP_FLASH_BYTES)
		rc = vr_fail(err, VR_ERR_INPUT, "%s is %lld bytes; a vesc-rescue backup is exactly %u "
			     "(1 MiB of flash)", path, (long long)st.st_size, BACKUP_FLASH_BYTES);
	else if (!(data = malloc(BACKUP_FLASH_BYTES)))
		rc = vr_fail(err, VR_ERR_NOMEM, "out of memory");
	size_t got = 0;
	while (!rc && got < BACKUP_FLASH_BYTES) {
		ssize_t n = read(fd, data + got, BACKUP_FLASH_BYTES - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = vr_fail(err, VR_ERR_INPUT, "%s: short read", path);
		else
			got += (size_t)n;
	}
	close(fd);
	if (rc) {
		free(data);
		return rc;
	}
	free(b->flash);
	b->flash = data;
	for (unsigned i = 0; i < F4_SECTORS; i++) {
		uint32_t off = stm32f4_sector_address(i) - STM32F4_FLASH_BASE;
		uint32_t size = stm32f4_sector_size(i);
		b->sector_crc[i] = crc32_zlib(data + off, size);
		bool blank = true;
		for (uint32_t k = 0; k < size && blank; k++)
			blank = data[off + k] == 0xFF;
		b->sector_blank[i] = blank;
		b->sector_read[i] = !blank;
	}
	snprintf(b->path, sizeof b->path, "%s", path);
	b->verified = true;
	return VR_OK;
}
