/* A firmware or bootloader image as a set of segments (address, bytes),
 * loaded from a raw .bin (with the address the person gives) or an Intel
 * HEX file (its own addresses). Gaps stay gaps: nothing is filled, so a
 * writer never programs bytes the file did not ask for.
 *
 * Every input file is size-capped before it is read (fstat, then a bounded
 * read) and carries its identity (device, inode, size, mtime, SHA-256), so
 * "the file changed between load and write" can be checked. Every refusal
 * is VR_ERR_INPUT (exit 3) with a message naming the case. */
#ifndef VR_IMAGE_H
#define VR_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "errors.h"
#include "sha256.h"
#include "images/vesc_layout.h"

/* A 1 MB flash never needs more; a HEX file of 1 MB of data is ~2.8 MB of
 * text, so HEX gets more room. */
#define IMAGE_MAX_BIN_BYTES (2u * 1024u * 1024u)
#define IMAGE_MAX_HEX_BYTES (4u * 1024u * 1024u)

enum image_format {
	IMAGE_FORMAT_AUTO = 0,   /* by extension (.bin, .hex/.ihex/.ihx), else by content */
	IMAGE_FORMAT_BIN,
	IMAGE_FORMAT_HEX,
};

struct image_segment {
	uint32_t addr;
	uint32_t len;
	uint32_t cap;            /* allocated bytes of data (private) */
	uint8_t *data;
};

struct image_identity {
	bool known;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	uint8_t sha256[SHA256_DIGEST_LEN];
};

struct image {
	struct image_segment *segs;  /* sorted by address, never overlapping or touching */
	size_t n_segs;
	size_t cap_segs;             /* private */
	enum image_format format;
	bool has_start_linear;       /* HEX record 05: EIP */
	uint32_t start_linear;
	bool has_start_segment;      /* HEX record 03: CS:IP as CS << 16 | IP */
	uint32_t start_segment;
	char path[1024];             /* as given; "" for images built in memory */
	struct image_identity id;
};

void image_init(struct image *img);
void image_free(struct image *img);

/* Loads path. fmt AUTO decides by the extension and refuses a file whose
 * content contradicts it (a .hex that is binary, a .bin that is HEX text
 * or ELF). bin_addr is where a raw binary goes (ignored for HEX). Refuses:
 * empty, truncated, huge, not a regular file, unreadable (errno text). */
vr_err image_load(const char *path, enum image_format fmt, uint32_t bin_addr,
		  struct image *img, struct vr_error *err);

/* The same from bytes already in memory (name is used in messages and,
 * with fmt AUTO, for the extension). On failure img is left empty. */
vr_err image_load_buffer(const uint8_t *data, size_t len, const char *name, enum image_format fmt,
			 uint32_t bin_addr, struct image *img, struct vr_error *err);

/* Adds bytes at addr; refuses bytes already present (overlap). Adjacent
 * segments merge. */
vr_err image_add(struct image *img, uint32_t addr, const uint8_t *data, size_t len,
		 struct vr_error *err);

bool image_empty(const struct image *img);
uint32_t image_lowest(const struct image *img);      /* 0 when empty */
uint64_t image_end(const struct image *img);         /* highest address + 1; 0 when empty */
size_t image_byte_count(const struct image *img);    /* bytes present, gaps excluded */
/* Whether addr holds a byte of the image; *value gets it. */
bool image_byte_at(const struct image *img, uint32_t addr, uint8_t *value);
/* Copies [addr, addr + len) into out, fill where the image has a gap.
 * Returns the number of bytes the image provided. */
size_t image_read_range(const struct image *img, uint32_t addr, uint8_t *out, size_t len,
			uint8_t fill);

/* Where, and as what, may this image be written? Runs the placement rules
 * of vesc_layout.h on the image's span and vector table. wanted as there. */
vr_err image_check_role(const struct image *img, enum vesc_role wanted,
			struct vesc_placement_result *res, struct vr_error *err);

const char *image_format_name(enum image_format fmt);   /* "bin", "hex", "auto" */
/* The format an extension implies, AUTO when it implies none. */
enum image_format image_format_from_name(const char *path);

/* ---- files ----------------------------------------------------------------- */
/* Reads a whole regular file of at most cap bytes (the cap is checked with
 * fstat before reading, and again while reading); *data is malloc'ed (one
 * spare NUL byte after len). id (may be NULL) gets its identity. */
vr_err image_read_file(const char *path, size_t cap, uint8_t **data, size_t *len,
		       struct image_identity *id, struct vr_error *err);

/* Fails (VR_ERR_INPUT) when the file at img->path is no longer the one
 * loaded: other file, other size or mtime, or other content. */
vr_err image_recheck(const struct image *img, struct vr_error *err);

#endif
