#include "image_tree.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define PATH_CAP 4096
#define MAX_VISITED_DIRS 4096u

struct dir_id {
	dev_t dev;
	ino_t ino;
};

/* The walk's working state (one per scan, on the caller's stack). */
struct walk {
	struct image_tree *tree;
	struct dir_id *visited;
	size_t n_visited;
	size_t entries_seen;
	struct vr_error *err;
	char root_real[PATH_CAP];  /* links may lead anywhere inside this, nowhere else */
};

/* ---- names ---------------------------------------------------------------- */
static bool ends_with_bin(const char *name)
{
	size_t len = strlen(name);
	return len > 4 && strcasecmp(name + len - 4, ".bin") == 0;
}

bool image_tree_name_matches(const char *name, const char *hw)
{
	if (name == NULL || hw == NULL || hw[0] == '\0')
		return false;
	size_t len = strlen(name);
	if (ends_with_bin(name))
		len -= 4;
	size_t hw_len = strlen(hw);
	size_t start = 0;
	while (start <= len) {
		const char *sep = NULL;
		for (size_t i = start; i + 3 <= len; i++) {
			if (memcmp(name + i, "_o_", 3) == 0) {
				sep = name + i;
				break;
			}
		}
		size_t part_end = sep ? (size_t)(sep - name) : len;
		if (part_end - start == hw_len && strncasecmp(name + start, hw, hw_len) == 0)
			return true;
		if (sep == NULL)
			break;
		start = part_end + 3;
	}
	return false;
}

bool image_tree_is_default(const struct tree_file *f)
{
	return f->kind == TREE_FIRMWARE && strcasecmp(f->name, "VESC_default.bin") == 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* Directories of other MCUs' images: never motor-controller firmware. */
static bool is_foreign_dir(const char *name)
{
	return strncmp(name, "bootloaders_", 12) == 0 || strcmp(name, "other_fw") == 0;
}

/* ---- recording files ----------------------------------------------------- */
static char *dup_or_null(const char *s)
{
	return strdup(s ? s : "");
}

static vr_err add_file(struct walk *w, const char *path, const char *parent, const char *grandparent,
		       long long size)
{
	struct image_tree *t = w->tree;
	if (t->n_files >= IMAGE_TREE_MAX_FILES) {
		t->truncated = true;
		return VR_OK;
	}
	if (t->n_files == t->cap_files) {
		size_t cap = t->cap_files ? t->cap_files * 2 : 64;
		struct tree_file *grown = realloc(t->files, cap * sizeof *grown);
		if (grown == NULL)
			return vr_fail(w->err, VR_ERR_NOMEM, "out of memory listing image files");
		t->files = grown;
		t->cap_files = cap;
	}
	const char *name = base_name(path);
	bool is_bl = strcmp(parent, "bootloaders") == 0;
	struct tree_file f = {.kind = is_bl ? TREE_BOOTLOADER : TREE_FIRMWARE, .size = size};
	f.path = dup_or_null(path);
	f.name = dup_or_null(name);
	if (is_bl) {
		f.group = strndup(name, strlen(name) - 4);
		f.version = dup_or_null("");
	} else {
		f.group = dup_or_null(parent);
		bool versioned = grandparent && strcmp(grandparent, "firmwares") != 0 &&
				 grandparent[0] >= '0' && grandparent[0] <= '9';
		f.version = dup_or_null(versioned ? grandparent : "");
	}
	if (!f.path || !f.name || !f.group || !f.version) {
		free(f.path);
		free(f.name);
		free(f.group);
		free(f.version);
		return vr_fail(w->err, VR_ERR_NOMEM, "out of memory listing image files");
	}
	t->files[t->n_files++] = f;
	return VR_OK;
}

/* ---- the walk --------------------------------------------------------------- */
static bool seen_before(struct walk *w, const struct stat *st)
{
	for (size_t i = 0; i < w->n_visited; i++)
		if (w->visited[i].dev == st->st_dev && w->visited[i].ino == st->st_ino)
			return true;
	return false;
}

static bool remember_dir(struct walk *w, const struct stat *st)
{
	if (w->n_visited >= MAX_VISITED_DIRS) {
		w->tree->truncated = true;
		return false;
	}
	w->visited[w->n_visited].dev = st->st_dev;
	w->visited[w->n_visited].ino = st->st_ino;
	w->n_visited++;
	return true;
}

static vr_err walk_dir(struct walk *w, const char *path, const char *dir_name, const char *parent_name,
		       int depth);

/* Whether a symbolic link at path resolves to somewhere inside the root:
 * files reached through links stay part of the tree DIR names. */
static bool link_stays_inside(const struct walk *w, const char *path)
{
	char target[PATH_CAP];
	if (realpath(path, target) == NULL)
		return false;
	size_t n = strlen(w->root_real);
	if (strcmp(w->root_real, "/") == 0)
		return true;
	return strncmp(target, w->root_real, n) == 0 && (target[n] == '/' || target[n] == '\0');
}

static vr_err visit_entry(struct walk *w, const char *path, const char *name, const char *dir_name,
			  const char *parent_name, int depth)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return VR_OK;
	if (S_ISLNK(st.st_mode) && !link_stays_inside(w, path)) {
		w->tree->skipped_outside++;
		return VR_OK;
	}
	/* stat follows links: a linked file or directory counts, and the
	 * visited set keeps a linked directory from being entered twice. */
	if (stat(path, &st) != 0)
		return VR_OK;   /* dangling link or vanished entry: nothing to list */
	if (S_ISDIR(st.st_mode)) {
		if (is_foreign_dir(name))
			return VR_OK;
		if (depth + 1 > IMAGE_TREE_MAX_DEPTH) {
			w->tree->skipped_deep++;
			return VR_OK;
		}
		if (seen_before(w, &st)) {
			w->tree->skipped_loops++;
			return VR_OK;
		}
		if (!remember_dir(w, &st))
			return VR_OK;
		return walk_dir(w, path, name, dir_name, depth + 1);
	}
	if (S_ISREG(st.st_mode) && ends_with_bin(name))
		return add_file(w, path, dir_name, parent_name, (long long)st.st_size);
	return VR_OK;
}

static vr_err walk_dir(struct walk *w, const char *path, const char *dir_name, const char *parent_name,
		       int depth)
{
	DIR *d = opendir(path);
	if (d == NULL)
		return VR_OK;   /* an unreadable subdirectory is skipped, the rest still listed */
	vr_err rc = VR_OK;
	struct dirent *de;
	while (rc == VR_OK && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (++w->entries_seen > IMAGE_TREE_MAX_ENTRIES) {
			w->tree->truncated = true;
			break;
		}
		char child[PATH_CAP];
		int n = snprintf(child, sizeof child, "%s/%s", path, de->d_name);
		if (n < 0 || (size_t)n >= sizeof child)
			continue;
		char name[256];
		snprintf(name, sizeof name, "%s", de->d_name);
		rc = visit_entry(w, child, name, dir_name, parent_name, depth);
	}
	closedir(d);
	return rc;
}

/* ---- ordering -------------------------------------------------------------- */
static int compare_files(const void *a, const void *b)
{
	const struct tree_file *x = a, *y = b;
	if (x->kind != y->kind)
		return (int)x->kind - (int)y->kind;
	int c = strcasecmp(x->group, y->group);
	if (c != 0)
		return c;
	c = strverscmp(y->version, x->version);   /* newest first */
	if (c != 0)
		return c;
	bool dx = image_tree_is_default(x), dy = image_tree_is_default(y);
	if (dx != dy)
		return dx ? -1 : 1;
	c = strcmp(x->name, y->name);
	return c != 0 ? c : strcmp(x->path, y->path);
}

static void root_names(const char *root, char *name, size_t name_cap, char *parent, size_t parent_cap)
{
	char copy[PATH_CAP];
	snprintf(copy, sizeof copy, "%s", root);
	size_t len = strlen(copy);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	char resolved[PATH_CAP];
	/* The root's own name matters when DIR is a group or a version
	 * ("." or a trailing "/.." must give the real names). */
	const char *use = realpath(copy, resolved) ? resolved : copy;
	snprintf(name, name_cap, "%s", base_name(use));
	char up[PATH_CAP];
	snprintf(up, sizeof up, "%s", use);
	char *slash = strrchr(up, '/');
	if (slash != NULL && slash != up) {
		*slash = '\0';
		snprintf(parent, parent_cap, "%s", base_name(up));
	} else {
		parent[0] = '\0';
	}
}

vr_err image_tree_scan(const char *dir, struct image_tree *tree, struct vr_error *err)
{
	memset(tree, 0, sizeof *tree);
	struct stat st;
	if (stat(dir, &st) != 0)
		return vr_fail(err, VR_ERR_INPUT, "cannot open image directory %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return vr_fail(err, VR_ERR_INPUT, "%s is not a directory: give the VESC Tool res/ directory "
			       "or a firmware archive (<version>/<group>/*.bin)", dir);
	tree->root = strdup(dir);
	struct walk w = {.tree = tree, .err = err};
	w.visited = calloc(MAX_VISITED_DIRS, sizeof *w.visited);
	if (tree->root == NULL || w.visited == NULL) {
		free(w.visited);
		image_tree_free(tree);
		return vr_fail(err, VR_ERR_NOMEM, "out of memory scanning %s", dir);
	}
	if (realpath(dir, w.root_real) == NULL)
		snprintf(w.root_real, sizeof w.root_real, "%s", dir);
	remember_dir(&w, &st);
	char name[256], parent[256];
	root_names(dir, name, sizeof name, parent, sizeof parent);
	vr_err rc = walk_dir(&w, dir, name, parent, 0);
	free(w.visited);
	if (rc != VR_OK) {
		image_tree_free(tree);
		return rc;
	}
	if (tree->n_files > 1)
		qsort(tree->files, tree->n_files, sizeof tree->files[0], compare_files);
	return VR_OK;
}

void image_tree_free(struct image_tree *tree)
{
	if (tree == NULL)
		return;
	for (size_t i = 0; i < tree->n_files; i++) {
		free(tree->files[i].path);
		free(tree->files[i].name);
		free(tree->files[i].group);
		free(tree->files[i].version);
	}
	free(tree->files);
	free(tree->root);
	memset(tree, 0, sizeof *tree);
}

/* ---- lookup ----------------------------------------------------------------- */
static void push(const struct tree_file **list, size_t *n, bool *more, const struct tree_file *f)
{
	if (*n < IMAGE_TREE_MAX_CANDIDATES)
		list[(*n)++] = f;
	else
		*more = true;
}

static size_t count_groups(const struct image_tree *tree, const char *hw)
{
	size_t groups = 0;
	const char *last = NULL;
	for (size_t i = 0; i < tree->n_files; i++) {
		const struct tree_file *f = &tree->files[i];
		if (f->kind != TREE_FIRMWARE || !image_tree_name_matches(f->group, hw))
			continue;
		/* files are sorted by group, so a new group shows as a change */
		if (last == NULL || strcasecmp(last, f->group) != 0)
			groups++;
		last = f->group;
	}
	return groups;
}

static void lookup_bootloaders(const struct image_tree *tree, const char *hw, struct image_tree_match *m)
{
	for (size_t i = 0; i < tree->n_files; i++) {
		const struct tree_file *f = &tree->files[i];
		if (f->kind == TREE_BOOTLOADER && image_tree_name_matches(f->group, hw))
			push(m->bootloaders, &m->n_bootloaders, &m->more, f);
	}
	if (m->n_bootloaders == 0) {
		for (size_t i = 0; i < tree->n_files; i++) {
			const struct tree_file *f = &tree->files[i];
			if (f->kind == TREE_BOOTLOADER && strcasecmp(f->name, "generic.bin") == 0)
				push(m->bootloaders, &m->n_bootloaders, &m->more, f);
		}
		m->bootloader_is_generic = m->n_bootloaders > 0;
	}
	if (m->n_bootloaders == 1)
		m->bootloader = m->bootloaders[0];
}

void image_tree_lookup(const struct image_tree *tree, const char *hw, struct image_tree_match *m)
{
	memset(m, 0, sizeof *m);
	if (tree == NULL || hw == NULL || hw[0] == '\0')
		return;
	for (size_t i = 0; i < tree->n_files; i++) {
		const struct tree_file *f = &tree->files[i];
		if (f->kind != TREE_FIRMWARE || !image_tree_name_matches(f->group, hw))
			continue;
		if (image_tree_is_default(f))
			push(m->defaults, &m->n_defaults, &m->more, f);
		else
			push(m->variants, &m->n_variants, &m->more, f);
	}
	if (m->n_defaults == 1)
		m->firmware = m->defaults[0];
	m->n_groups = count_groups(tree, hw);
	lookup_bootloaders(tree, hw, m);
}
