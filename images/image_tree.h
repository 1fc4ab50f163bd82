/* Firmware and bootloader files under an --images DIR: VESC Tool's
 * res/firmwares/<group>/ *.bin with res/bootloaders/<group>.bin and
 * generic.bin, or the archive layout <version>/<group>/ *.bin (reference
 * vesc-protocol-and-flash.md §6, CONTRACTS.md §6). DIR may be res/, its
 * parent, firmwares/, the archive root, one version, or one group.
 *
 * A group matches a HW name when one of its "_o_"-separated parts equals
 * it (case-insensitive); so does a bootloader file's name; otherwise the
 * bootloader is generic.bin. Nothing is guessed: several matches are all
 * returned and the caller lets the person choose.
 *
 * The walk is bounded (depth, entries, files), skips hidden entries,
 * follows symbolic links only to places inside DIR and never into a
 * directory it has already seen (no loops), and ignores bootloaders_bms/, bootloaders_custom_module/ and
 * other_fw/ (other MCUs). */
#ifndef VR_IMAGE_TREE_H
#define VR_IMAGE_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "errors.h"

#define IMAGE_TREE_MAX_DEPTH 6
#define IMAGE_TREE_MAX_ENTRIES 50000u   /* directory entries looked at */
#define IMAGE_TREE_MAX_FILES 4096u      /* .bin files recorded */
#define IMAGE_TREE_MAX_CANDIDATES 64u

enum tree_file_kind {
	TREE_FIRMWARE = 0,
	TREE_BOOTLOADER,
};

struct tree_file {
	enum tree_file_kind kind;
	char *path;       /* as reachable from the DIR given */
	char *name;       /* file name: "VESC_default.bin", "generic.bin" */
	char *group;      /* "410_o_411_o_412"; a bootloader's name without .bin */
	char *version;    /* "6.05" in the archive layout, "" otherwise */
	long long size;
};

struct image_tree {
	char *root;
	struct tree_file *files;  /* sorted: firmware then bootloaders, by group, version (newest first), name */
	size_t n_files;
	size_t cap_files;         /* private */
	unsigned skipped_loops;   /* directories reached twice (symlink loops) */
	unsigned skipped_deep;    /* directories below IMAGE_TREE_MAX_DEPTH */
	unsigned skipped_outside; /* symbolic links leading out of DIR (or dangling) */
	bool truncated;           /* an entry or file limit was hit */
};

/* Walks dir. VR_ERR_INPUT when dir cannot be opened or is not a directory. */
vr_err image_tree_scan(const char *dir, struct image_tree *tree, struct vr_error *err);
void image_tree_free(struct image_tree *tree);

/* One "_o_"-separated part of name (".bin" stripped) equals hw, ignoring case. */
bool image_tree_name_matches(const char *name, const char *hw);
/* Whether a firmware file is the default variant (VESC_default.bin). */
bool image_tree_is_default(const struct tree_file *f);

struct image_tree_match {
	/* VESC_default.bin of every matching group (and version): the choice
	 * is firmware when exactly one, else the caller asks. */
	const struct tree_file *defaults[IMAGE_TREE_MAX_CANDIDATES];
	size_t n_defaults;
	const struct tree_file *firmware;    /* set only when n_defaults == 1 */
	/* The other .bin files of the matching groups. */
	const struct tree_file *variants[IMAGE_TREE_MAX_CANDIDATES];
	size_t n_variants;
	/* Bootloader files whose name matches hw, else the generic.bin files. */
	const struct tree_file *bootloaders[IMAGE_TREE_MAX_CANDIDATES];
	size_t n_bootloaders;
	bool bootloader_is_generic;
	const struct tree_file *bootloader;  /* set only when n_bootloaders == 1 */
	size_t n_groups;                     /* distinct matching groups */
	bool more;                           /* a candidate list was cut at the maximum */
};

/* Fills m for hw. Never fails; an empty match has n_defaults == 0. */
void image_tree_lookup(const struct image_tree *tree, const char *hw, struct image_tree_match *m);

#endif
