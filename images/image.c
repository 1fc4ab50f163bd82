#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/ihex.h"

#define SNIFF_BYTES 4096u

void image_init(struct image *img)
{
	memset(img, 0, sizeof *img);
}

void image_free(struct image *img)
{
	if (img == NULL)
		return;
	for (size_t i = 0; i < img->n_segs; i++)
		free(img->segs[i].data);
	free(img->segs);
	image_init(img);
}

/* ---- segments -------------------------------------------------------------- */
static uint64_t seg_end(const struct image_segment *s)
{
	return (uint64_t)s->addr + s->len;
}

/* Index of the first segment whose address is above addr. */
static size_t upper_bound(const struct image *img, uint32_t addr)
{
	size_t lo = 0, hi = img->n_segs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (img->segs[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static vr_err seg_reserve(struct image_segment *s, size_t extra, struct vr_error *err)
{
	size_t want = (size_t)s->len + extra;
	if (want <= s->cap)
		return VR_OK;
	size_t cap = s->cap ? s->cap : 256;
	while (cap < want)
		cap *= 2;
	uint8_t *grown = realloc(s->data, cap);
	if (grown == NULL)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory holding an image segment of %zu bytes", cap);
	s->data = grown;
	s->cap = (uint32_t)cap;
	return VR_OK;
}

static vr_err seg_append(struct image_segment *s, const uint8_t *data, size_t len, struct vr_error *err)
{
	vr_err rc = seg_reserve(s, len, err);
	if (rc != VR_OK)
		return rc;
	memcpy(s->data + s->len, data, len);
	s->len += (uint32_t)len;
	return VR_OK;
}

static vr_err insert_segment(struct image *img, size_t at, uint32_t addr, const uint8_t *data,
			     size_t len, struct vr_error *err)
{
	if (img->n_segs == img->cap_segs) {
		size_t cap = img->cap_segs ? img->cap_segs * 2 : 8;
		struct image_segment *grown = realloc(img->segs, cap * sizeof *grown);
		if (grown == NULL)
			return vr_fail(err, VR_ERR_NOMEM, "out of memory holding %zu image segments", cap);
		img->segs = grown;
		img->cap_segs = cap;
	}
	memmove(&img->segs[at + 1], &img->segs[at], (img->n_segs - at) * sizeof img->segs[0]);
	struct image_segment *s = &img->segs[at];
	memset(s, 0, sizeof *s);
	s->addr = addr;
	img->n_segs++;
	return seg_append(s, data, len, err);
}

/* Folds segment at+1 into segment at when they touch. */
static vr_err merge_with_next(struct image *img, size_t at, struct vr_error *err)
{
	if (at + 1 >= img->n_segs || seg_end(&img->segs[at]) != img->segs[at + 1].addr)
		return VR_OK;
	struct image_segment *next = &img->segs[at + 1];
	vr_err rc = seg_append(&img->segs[at], next->data, next->len, err);
	if (rc != VR_OK)
		return rc;
	free(next->data);
	memmove(next, next + 1, (img->n_segs - at - 2) * sizeof *next);
	img->n_segs--;
	return VR_OK;
}

vr_err image_add(struct image *img, uint32_t addr, const uint8_t *data, size_t len, struct vr_error *err)
{
	if (len == 0)
		return VR_OK;
	uint64_t end = (uint64_t)addr + len;
	if (end > 0x100000000ull || len > UINT32_MAX)
		return vr_fail(err, VR_ERR_INPUT, "bytes at 0x%08X (%zu) run past the 4 GiB address space",
			       addr, len);
	size_t at = upper_bound(img, addr);
	if (at > 0 && seg_end(&img->segs[at - 1]) > addr)
		return vr_fail(err, VR_ERR_INPUT, "bytes at 0x%08X are given twice (overlapping records)", addr);
	if (at < img->n_segs && end > img->segs[at].addr)
		return vr_fail(err, VR_ERR_INPUT, "bytes at 0x%08X are given twice (overlapping records)",
			       img->segs[at].addr);
	if (at > 0 && seg_end(&img->segs[at - 1]) == addr) {
		vr_err rc = seg_append(&img->segs[at - 1], data, len, err);
		return rc != VR_OK ? rc : merge_with_next(img, at - 1, err);
	}
	vr_err rc = insert_segment(img, at, addr, data, len, err);
	return rc != VR_OK ? rc : merge_with_next(img, at, err);
}

bool image_empty(const struct image *img)
{
	return img->n_segs == 0;
}

uint32_t image_lowest(const struct image *img)
{
	return img->n_segs ? img->segs[0].addr : 0;
}

uint64_t image_end(const struct image *img)
{
	return img->n_segs ? seg_end(&img->segs[img->n_segs - 1]) : 0;
}

size_t image_byte_count(const struct image *img)
{
	size_t total = 0;
	for (size_t i = 0; i < img->n_segs; i++)
		total += img->segs[i].len;
	return total;
}

bool image_byte_at(const struct image *img, uint32_t addr, uint8_t *value)
{
	size_t at = upper_bound(img, addr);
	if (at == 0)
		return false;
	const struct image_segment *s = &img->segs[at - 1];
	if (addr - s->addr >= s->len)
		return false;
	*value = s->data[addr - s->addr];
	return true;
}

size_t image_read_range(const struct image *img, uint32_t addr, uint8_t *out, size_t len, uint8_t fill)
{
	memset(out, fill, len);
	uint64_t want_end = (uint64_t)addr + len;
	size_t provided = 0;
	for (size_t i = 0; i < img->n_segs; i++) {
		const struct image_segment *s = &img->segs[i];
		uint64_t lo = s->addr > addr ? s->addr : addr;
		uint64_t hi = seg_end(s) < want_end ? seg_end(s) : want_end;
		if (lo >= hi)
			continue;
		memcpy(out + (lo - addr), s->data + (lo - s->addr), (size_t)(hi - lo));
		provided += (size_t)(hi - lo);
	}
	return provided;
}

vr_err image_check_role(const struct image *img, enum vesc_role wanted,
			struct vesc_placement_result *res, struct vr_error *err)
{
	if (image_empty(img))
		return vr_fail(err, VR_ERR_INPUT, "%s holds no bytes", img->path[0] ? img->path : "the image");
	uint8_t head[64];
	uint32_t lowest = image_lowest(img);
	image_read_range(img, lowest, head, sizeof head, 0xFF);
	uint64_t span = image_end(img) - lowest;
	struct vesc_placement p = {
		.addr = lowest,
		.size = span > UINT32_MAX ? UINT32_MAX : (uint32_t)span,
		.head = head,
		.head_len = sizeof head,
	};
	vr_err rc = vesc_check_placement(&p, wanted, res, err);
	if (rc != VR_OK && img->path[0] && err != NULL)
		vr_wrap(err, "%s", img->path);
	return rc;
}

/* ---- formats and sniffing --------------------------------------------------- */
const char *image_format_name(enum image_format fmt)
{
	switch (fmt) {
	case IMAGE_FORMAT_BIN: return "bin";
	case IMAGE_FORMAT_HEX: return "hex";
	case IMAGE_FORMAT_AUTO: break;
	}
	return "auto";
}

enum image_format image_format_from_name(const char *path)
{
	const char *dot = path ? strrchr(path, '.') : NULL;
	if (dot == NULL || strchr(dot, '/') != NULL)
		return IMAGE_FORMAT_AUTO;
	if (strcasecmp(dot, ".bin") == 0)
		return IMAGE_FORMAT_BIN;
	if (strcasecmp(dot, ".hex") == 0 || strcasecmp(dot, ".ihex") == 0 || strcasecmp(dot, ".ihx") == 0)
		return IMAGE_FORMAT_HEX;
	return IMAGE_FORMAT_AUTO;
}

static bool is_text_byte(uint8_t c)
{
	return (c >= 0x20 && c < 0x7F) || c == '\r' || c == '\n' || c == '\t';
}

/* Offset of the first byte no HEX text can hold, or len when none. */
static size_t first_binary_byte(const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_text_byte(data[i]))
			return i;
	return len;
}

static bool looks_like_ihex(const uint8_t *data, size_t len)
{
	size_t i = 0;
	while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n'))
		i++;
	if (i + 11 > len || data[i] != ':')
		return false;
	for (size_t k = 1; k <= 10; k++) {
		uint8_t c = data[i + k];
		bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		if (!hex)
			return false;
	}
	size_t sniff = len < SNIFF_BYTES ? len : SNIFF_BYTES;
	return first_binary_byte(data, sniff) == sniff;
}

static bool looks_like_elf(const uint8_t *data, size_t len)
{
	return len >= 4 && data[0] == 0x7F && data[1] == 'E' && data[2] == 'L' && data[3] == 'F';
}

static vr_err load_hex(const uint8_t *data, size_t len, const char *name, struct image *img,
		       struct vr_error *err)
{
	size_t bad = first_binary_byte(data, len);
	if (bad < len)
		return vr_fail(err, VR_ERR_INPUT, "%s is named as Intel HEX but holds binary data (byte 0x%02X "
			       "at offset %zu): if it is a raw image, name it .bin and give its address",
			       name, data[bad], bad);
	return ihex_parse((const char *)data, len, name, img, err);
}

static vr_err load_bin(const uint8_t *data, size_t len, const char *name, uint32_t addr,
		       struct image *img, struct vr_error *err)
{
	if (looks_like_elf(data, len))
		return vr_fail(err, VR_ERR_INPUT, "%s is an ELF file, not a raw binary: convert it with "
			       "arm-none-eabi-objcopy -O binary, or use the .bin VESC Tool ships", name);
	if (looks_like_ihex(data, len))
		return vr_fail(err, VR_ERR_INPUT, "%s is named .bin but holds Intel HEX text: name it .hex "
			       "(its addresses come from the file)", name);
	if ((uint64_t)addr + len > 0x100000000ull)
		return vr_fail(err, VR_ERR_INPUT, "%s (%zu bytes) at 0x%08X runs past the 4 GiB address space",
			       name, len, addr);
	vr_err rc = image_add(img, addr, data, len, err);
	if (rc == VR_OK)
		img->format = IMAGE_FORMAT_BIN;
	return rc;
}

vr_err image_load_buffer(const uint8_t *data, size_t len, const char *name, enum image_format fmt,
			 uint32_t bin_addr, struct image *img, struct vr_error *err)
{
	if (name == NULL)
		name = "the image";
	if (len == 0)
		return vr_fail(err, VR_ERR_INPUT, "%s is empty (0 bytes): not an image; was a download or "
			       "copy interrupted?", name);
	if (fmt == IMAGE_FORMAT_AUTO)
		fmt = image_format_from_name(name);
	if (fmt == IMAGE_FORMAT_AUTO)
		fmt = looks_like_ihex(data, len) ? IMAGE_FORMAT_HEX : IMAGE_FORMAT_BIN;
	vr_err rc = fmt == IMAGE_FORMAT_HEX ? load_hex(data, len, name, img, err)
					     : load_bin(data, len, name, bin_addr, img, err);
	if (rc != VR_OK)
		image_free(img);   /* no half-loaded image survives a refusal */
	return rc;
}

/* ---- files ----------------------------------------------------------------- */
static void identity_from_stat(const struct stat *st, struct image_identity *id)
{
	id->known = true;
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
}

static const char *file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

/* Reads at most expect + 1 bytes (expect <= cap, from fstat), so a file
 * that grew or shrank since fstat is caught rather than half-read. */
static vr_err read_bounded(int fd, const char *path, size_t expect, uint8_t *buf, size_t *got,
			   struct vr_error *err)
{
	size_t total = 0;
	while (total < expect + 1) {
		ssize_t n = read(fd, buf + total, expect + 1 - total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vr_fail(err, VR_ERR_INPUT, "cannot read %s: %s", path, strerror(errno));
		if (n == 0)
			break;
		total += (size_t)n;
	}
	if (total > expect)
		return vr_fail(err, VR_ERR_INPUT, "%s grew past its %zu bytes while being read: is something "
			       "still writing it?", path, expect);
	if (total < expect)
		return vr_fail(err, VR_ERR_INPUT, "%s shrank from %zu to %zu bytes while being read: is "
			       "something still writing it?", path, expect, total);
	*got = total;
	return VR_OK;
}

static vr_err check_stat(const char *path, const struct stat *st, size_t cap, struct vr_error *err)
{
	if (!S_ISREG(st->st_mode))
		return vr_fail(err, VR_ERR_INPUT, "%s is %s, not a regular file", path, file_kind(st->st_mode));
	if (st->st_size == 0)
		return vr_fail(err, VR_ERR_INPUT, "%s is empty (0 bytes): not an image; was a download or "
			       "copy interrupted?", path);
	if ((unsigned long long)st->st_size > cap)
		return vr_fail(err, VR_ERR_INPUT, "%s is %lld bytes, more than the %zu a 1 MB flash image "
			       "can need: refusing to read it (wrong file?)", path, (long long)st->st_size, cap);
	return VR_OK;
}

vr_err image_read_file(const char *path, size_t cap, uint8_t **data, size_t *len,
		       struct image_identity *id, struct vr_error *err)
{
	*data = NULL;
	*len = 0;
	/* O_NONBLOCK: opening a FIFO must not hang before fstat can refuse it. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return vr_fail(err, VR_ERR_INPUT, "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	vr_err rc = VR_OK;
	if (fstat(fd, &st) != 0)
		rc = vr_fail(err, VR_ERR_INPUT, "cannot stat %s: %s", path, strerror(errno));
	if (rc == VR_OK)
		rc = check_stat(path, &st, cap, err);
	uint8_t *buf = NULL;
	if (rc == VR_OK) {
		/* st_size <= cap here; one byte to notice growth, one for the NUL */
		buf = malloc((size_t)st.st_size + 2);
		if (buf == NULL)
			rc = vr_fail(err, VR_ERR_NOMEM, "out of memory reading %s", path);
	}
	size_t got = 0;
	if (rc == VR_OK)
		rc = read_bounded(fd, path, (size_t)st.st_size, buf, &got, err);
	close(fd);
	if (rc != VR_OK) {
		free(buf);
		return rc;
	}
	buf[got] = 0;
	if (id != NULL) {
		identity_from_stat(&st, id);
		sha256(buf, got, id->sha256);
	}
	*data = buf;
	*len = got;
	return VR_OK;
}

/* HEX text needs ~2.75 bytes per data byte; anything else is held to the
 * binary cap, decided before a byte is read. */
static size_t cap_for(enum image_format fmt)
{
	return fmt == IMAGE_FORMAT_HEX ? IMAGE_MAX_HEX_BYTES : IMAGE_MAX_BIN_BYTES;
}

vr_err image_load(const char *path, enum image_format fmt, uint32_t bin_addr, struct image *img,
		  struct vr_error *err)
{
	if (fmt == IMAGE_FORMAT_AUTO)
		fmt = image_format_from_name(path);
	uint8_t *data = NULL;
	size_t len = 0;
	struct image_identity id;
	vr_err rc = image_read_file(path, cap_for(fmt), &data, &len, &id, err);
	if (rc != VR_OK)
		return rc;
	rc = image_load_buffer(data, len, path, fmt, bin_addr, img, err);
	free(data);
	if (rc != VR_OK)
		return rc;
	snprintf(img->path, sizeof img->path, "%s", path);
	img->id = id;
	return VR_OK;
}

static bool same_file(const struct image_identity *a, const struct stat *st)
{
	return a->dev == st->st_dev && a->ino == st->st_ino && a->size == st->st_size &&
	       a->mtime.tv_sec == st->st_mtim.tv_sec && a->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

vr_err image_recheck(const struct image *img, struct vr_error *err)
{
	if (!img->id.known || img->path[0] == '\0')
		return VR_OK;
	struct stat st;
	if (stat(img->path, &st) != 0)
		return vr_fail(err, VR_ERR_INPUT, "%s is gone since it was loaded (%s): not writing a file "
			       "that changed", img->path, strerror(errno));
	if (!same_file(&img->id, &st))
		return vr_fail(err, VR_ERR_INPUT, "%s changed since it was loaded (other file, size or "
			       "modification time): load and check it again before writing", img->path);
	uint8_t *data = NULL;
	size_t len = 0;
	struct image_identity now;
	vr_err rc = image_read_file(img->path, cap_for(img->format), &data, &len, &now, err);
	free(data);
	if (rc != VR_OK) {
		if (err != NULL)
			vr_wrap(err, "re-checking %s", img->path);
		return rc;
	}
	if (memcmp(now.sha256, img->id.sha256, SHA256_DIGEST_LEN) != 0)
		return vr_fail(err, VR_ERR_INPUT, "%s changed since it was loaded (its SHA-256 differs): "
			       "load and check it again before writing", img->path);
	return VR_OK;
}
