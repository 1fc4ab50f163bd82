/* The resume journal: see journal.h for the format and the file rules.
 *
 * The reader trusts nothing: the file may be torn by a killed process, grown
 * by years of runs, edited by hand or hold another chip's events. Lines it
 * cannot use are counted and skipped, never fatal. */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SCHEMA_VERSION 1
#define KEY_MAX 16
#define VALUE_MAX 320

static const char *const event_names[JEV_COUNT_] = {
	[JEV_NOTE] = "note", [JEV_START] = "start", [JEV_STEP] = "step",
	[JEV_PROGRESS] = "progress", [JEV_ANSWER] = "answer", [JEV_BACKUP] = "backup",
	[JEV_END] = "end",
};

static const char *const answer_names[] = {
	[BL_ANSWER_NOT_ASKED] = "not-asked", [BL_ANSWER_MISSING] = "missing",
	[BL_ANSWER_WORKS] = "works", [BL_ANSWER_UNKNOWN] = "unknown",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *journal_event_kind_name(enum journal_event_kind kind)
{
	return (unsigned)kind < COUNT(event_names) ? event_names[kind] : "unknown";
}

const char *bl_answer_name(enum bl_answer answer)
{
	return (unsigned)answer < COUNT(answer_names) ? answer_names[answer] : "unknown";
}

static int name_index(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

static int attach_from_name(const char *name)
{
	for (int i = ATTACH_NOT_TRIED; i <= ATTACH_FAILED; i++)
		if (strcmp(attach_result_name((enum attach_result)i), name) == 0)
			return i;
	return -1;
}

void journal_uid_hex(const uint8_t uid[12], char out[JOURNAL_UID_HEX])
{
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; i < 12; i++) {
		out[2 * i] = digits[uid[i] >> 4];
		out[2 * i + 1] = digits[uid[i] & 15];
	}
	out[24] = '\0';
}

static bool is_uid_hex(const char *s)
{
	size_t n = strlen(s);
	if (n != 24)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* ---- paths and files -------------------------------------------------------- */

vr_err journal_default_path(const char *xdg_state_home, const char *home, const char *uid_hex,
			    char *out, size_t cap, struct vr_error *err)
{
	const char *uid = uid_hex && uid_hex[0] ? uid_hex : "unknown";
	int n;
	/* The XDG spec says relative values are invalid and must be ignored. */
	if (xdg_state_home && xdg_state_home[0] == '/')
		n = snprintf(out, cap, "%s/vesc-rescue/journal-%s.jsonl", xdg_state_home, uid);
	else if (home && home[0] == '/')
		n = snprintf(out, cap, "%s/.local/state/vesc-rescue/journal-%s.jsonl", home, uid);
	else
		return vr_fail(err, VR_ERR_USAGE, "neither XDG_STATE_HOME nor HOME is an absolute "
			       "path: set one of them, or give --log FILE");
	if (n < 0 || (size_t)n >= cap)
		return vr_fail(err, VR_ERR_USAGE, "the journal path is too long: set a shorter "
			       "XDG_STATE_HOME");
	return VR_OK;
}

vr_err journal_make_dirs(const char *path, struct vr_error *err)
{
	char dir[512];
	size_t len = strlen(path);
	if (len >= sizeof dir)
		return vr_fail(err, VR_ERR_IO, "path too long: %.80s...", path);
	memcpy(dir, path, len + 1);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return VR_OK;
	*slash = '\0';
	for (char *p = dir + 1; ; p++) {
		bool last = *p == '\0';
		if (*p == '/' || last) {
			char saved = *p;
			*p = '\0';
			if (mkdir(dir, 0700) != 0 && errno != EEXIST)
				return vr_fail(err, VR_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
			struct stat st;
			if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
				return vr_fail(err, VR_ERR_IO, "%s is not a directory", dir);
			*p = saved;
		}
		if (last)
			break;
	}
	return VR_OK;
}

static vr_err open_error(const char *path, int e, struct vr_error *err)
{
	if (e == ELOOP)
		return vr_fail(err, VR_ERR_IO, "%s is a symbolic link: refused (the journal is never "
			       "followed through links); remove it or give another --log path", path);
	if (e == EACCES || e == EPERM)
		return vr_fail(err, VR_ERR_ACCESS, "cannot open the journal %s: %s", path, strerror(e));
	return vr_fail(err, VR_ERR_IO, "cannot open the journal %s: %s", path, strerror(e));
}

static vr_err check_regular_ours(int fd, const char *path, struct vr_error *err)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return vr_fail(err, VR_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return vr_fail(err, VR_ERR_IO, "%s is not a regular file: refused", path);
	if (st.st_uid != geteuid())
		return vr_fail(err, VR_ERR_ACCESS, "%s belongs to another user: refused (remove it "
			       "or give another --log path)", path);
	/* It names the chip and the backup: others have no business reading it. */
	if ((st.st_mode & 077) && fchmod(fd, st.st_mode & 0700) != 0)
		return vr_fail(err, VR_ERR_IO, "cannot make %s private: %s", path, strerror(errno));
	return VR_OK;
}

vr_err journal_open(struct journal *j, const char *path, struct vr_error *err)
{
	j->fd = -1;
	if (snprintf(j->path, sizeof j->path, "%s", path) >= (int)sizeof j->path)
		return vr_fail(err, VR_ERR_IO, "journal path too long: %.80s...", path);
	int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC;
	int fd = open(path, flags | O_CREAT | O_EXCL, 0600);
	if (fd < 0 && errno == EEXIST)
		fd = open(path, flags);
	if (fd < 0)
		return open_error(path, errno, err);
	vr_err rc = check_regular_ours(fd, path, err);
	if (rc != VR_OK) {
		close(fd);
		return rc;
	}
	j->fd = fd;
	return VR_OK;
}

static vr_err write_all(int fd, const char *buf, size_t len, const char *path, struct vr_error *err)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return vr_fail(err, VR_ERR_IO, "writing the journal %s: %s", path,
				       n < 0 ? strerror(errno) : "nothing written");
		buf += n;
		len -= (size_t)n;
	}
	return VR_OK;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

vr_err journal_append(struct journal *j, const struct journal_event *ev, bool sync,
		      struct vr_error *err)
{
	if (j->fd < 0)
		return vr_fail(err, VR_ERR_INTERNAL, "journal not open");
	struct journal_event stamped = *ev;
	if (stamped.ts_ms == 0)
		stamped.ts_ms = now_ms();
	char line[JOURNAL_LINE_MAX];
	size_t len = journal_format(&stamped, line, sizeof line);
	if (len == 0)
		return vr_fail(err, VR_ERR_INTERNAL, "journal event too long");
	vr_err rc = write_all(j->fd, line, len, j->path, err);
	if (rc == VR_OK && sync && fsync(j->fd) != 0)
		return vr_fail(err, VR_ERR_IO, "fsync of the journal %s: %s", j->path, strerror(errno));
	return rc;
}

void journal_close(struct journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
}

/* ---- writer ------------------------------------------------------------------- */

struct out {
	char *buf;
	size_t cap, len;
	bool overflow;
	bool first;
};

__attribute__((format(printf, 2, 3)))
static void emit(struct out *o, const char *fmt, ...)
{
	if (o->overflow)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		o->overflow = true;
	else
		o->len += (size_t)n;
}

static void emit_key(struct out *o, const char *key)
{
	emit(o, "%s\"%s\":", o->first ? "" : ",", key);
	o->first = false;
}

/* Length of a valid UTF-8 sequence at s (max n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
	if (s[0] > 0xF4 || len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

static void emit_string(struct out *o, const char *key, const char *value)
{
	emit_key(o, key);
	emit(o, "\"");
	const unsigned char *s = (const unsigned char *)value;
	size_t n = strlen(value);
	for (size_t i = 0; i < n && !o->overflow;) {
		unsigned char ch = s[i];
		if (ch == '"' || ch == '\\') {
			emit(o, "\\%c", ch);
			i++;
		} else if (ch == '\n') {
			emit(o, "\\n");
			i++;
		} else if (ch == '\t') {
			emit(o, "\\t");
			i++;
		} else if (ch < 0x20 || ch == 0x7F) {
			emit(o, "\\u%04x", ch);
			i++;
		} else if (ch < 0x80) {
			emit(o, "%c", ch);
			i++;
		} else {
			size_t len = utf8_seq(s + i, n - i);
			if (len == 0) {
				emit(o, "\\ufffd");   /* not UTF-8: keep the line valid JSON */
				i++;
			} else {
				emit(o, "%.*s", (int)len, (const char *)s + i);
				i += len;
			}
		}
	}
	emit(o, "\"");
}

static void emit_uint(struct out *o, const char *key, uint64_t value)
{
	emit_key(o, key);
	emit(o, "%" PRIu64, value);
}

size_t journal_format(const struct journal_event *ev, char *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap, .first = true};
	if (cap == 0)
		return 0;
	emit(&o, "{");
	emit_uint(&o, "v", SCHEMA_VERSION);
	emit_key(&o, "ts");
	emit(&o, "%" PRId64, ev->ts_ms);
	emit_string(&o, "event", journal_event_kind_name(ev->kind));
	if (ev->uid[0])
		emit_string(&o, "uid", ev->uid);
	if (ev->step != STEP_NONE)
		emit_string(&o, "step", plan_step_kind_name(ev->step));
	if (ev->path != PATH_NONE)
		emit_string(&o, "path", plan_path_name(ev->path));
	if (ev->result != STEP_RESULT_NONE)
		emit_string(&o, "result", step_result_name(ev->result));
	if (ev->rung != ATTACH_NOT_TRIED)
		emit_string(&o, "rung", attach_result_name(ev->rung));
	if (ev->role != ROLE_NONE)
		emit_string(&o, "role", image_role_name(ev->role));
	if (ev->sectors)
		emit_uint(&o, "sectors", ev->sectors);
	if (ev->has_address) {
		emit_key(&o, "address");
		emit(&o, "\"0x%08" PRIX32 "\"", ev->address);
	}
	if (ev->bytes)
		emit_uint(&o, "bytes", ev->bytes);
	if (ev->offset || ev->kind == JEV_PROGRESS)
		emit_uint(&o, "offset", ev->offset);
	if (ev->sha256[0])
		emit_string(&o, "sha256", ev->sha256);
	if (ev->backup[0])
		emit_string(&o, "backup", ev->backup);
	if (ev->answer != BL_ANSWER_NOT_ASKED)
		emit_string(&o, "answer", bl_answer_name(ev->answer));
	if (ev->evidence[0])
		emit_string(&o, "evidence", ev->evidence);
	emit(&o, "}\n");
	return o.overflow ? 0 : o.len;
}

/* ---- reader -------------------------------------------------------------------- */

struct cursor {
	const char *p, *end;
};

static void skip_ws(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r'))
		c->p++;
}

static int hex_val(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool read_hex4(struct cursor *c, unsigned *cp)
{
	if (c->end - c->p < 4)
		return false;
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hex_val(c->p[i]);
		if (h < 0)
			return false;
		v = v << 4 | (unsigned)h;
	}
	c->p += 4;
	*cp = v;
	return true;
}

/* Appends code point cp as UTF-8 to out (truncating silently at cap - 1). */
static void put_utf8(char *out, size_t cap, size_t *len, unsigned cp)
{
	char tmp[4];
	size_t n;
	if (cp < 0x80) {
		tmp[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (char)(0xC0 | cp >> 6), tmp[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (char)(0xE0 | cp >> 12), tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		tmp[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
	} else {
		tmp[0] = (char)(0xF0 | cp >> 18), tmp[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		tmp[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), tmp[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
	}
	if (*len + n < cap) {
		memcpy(out + *len, tmp, n);
		*len += n;
	}
}

static bool parse_escape(struct cursor *c, char *out, size_t cap, size_t *len)
{
	if (c->p >= c->end)
		return false;
	char e = *c->p++;
	unsigned cp;
	switch (e) {
	case '"': case '\\': case '/': cp = (unsigned char)e; break;
	case 'b': cp = '\b'; break;
	case 'f': cp = '\f'; break;
	case 'n': cp = '\n'; break;
	case 'r': cp = '\r'; break;
	case 't': cp = '\t'; break;
	case 'u':
		if (!read_hex4(c, &cp))
			return false;
		if (cp >= 0xD800 && cp < 0xDC00) {
			unsigned lo;
			struct cursor save = *c;
			if (c->end - c->p >= 6 && c->p[0] == '\\' && c->p[1] == 'u') {
				c->p += 2;
				if (read_hex4(c, &lo) && lo >= 0xDC00 && lo < 0xE000) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					break;
				}
			}
			*c = save;
			cp = 0xFFFD;
		} else if (cp >= 0xDC00 && cp < 0xE000) {
			cp = 0xFFFD;
		}
		if (cp == 0)
			cp = 0xFFFD;   /* a NUL would cut the C string */
		break;
	default:
		return false;
	}
	put_utf8(out, cap, len, cp);
	return true;
}

static bool parse_string(struct cursor *c, char *out, size_t cap)
{
	size_t len = 0;
	if (c->p >= c->end || *c->p != '"')
		return false;
	c->p++;
	while (c->p < c->end) {
		char ch = *c->p++;
		if (ch == '"') {
			out[len] = '\0';
			return true;
		}
		if ((unsigned char)ch < 0x20)
			return false;
		if (ch == '\\') {
			if (!parse_escape(c, out, cap, &len))
				return false;
		} else if (len + 1 < cap) {
			out[len++] = ch;
		}
	}
	return false;
}

enum jtype { JT_STRING, JT_INT, JT_OTHER };

struct jvalue {
	enum jtype type;
	char str[VALUE_MAX];
	int64_t num;
};

static bool parse_number(struct cursor *c, struct jvalue *v)
{
	const char *start = c->p;
	bool neg = false;
	if (c->p < c->end && *c->p == '-')
		neg = true, c->p++;
	if (c->p >= c->end || *c->p < '0' || *c->p > '9')
		return false;
	uint64_t mag = 0;
	bool too_big = false;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
		unsigned d = (unsigned)(*c->p++ - '0');
		if (mag > (UINT64_MAX - d) / 10 || mag * 10 + d > (uint64_t)INT64_MAX)
			too_big = true;
		else
			mag = mag * 10 + d;
	}
	bool fraction = false;
	if (c->p < c->end && *c->p == '.') {
		fraction = true;
		c->p++;
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		fraction = true;
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	}
	if (c->p == start)
		return false;
	v->type = (fraction || too_big) ? JT_OTHER : JT_INT;
	v->num = neg ? -(int64_t)mag : (int64_t)mag;
	return true;
}

static bool parse_literal(struct cursor *c, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return false;
	c->p += n;
	return true;
}

static bool parse_value(struct cursor *c, struct jvalue *v)
{
	if (c->p >= c->end)
		return false;
	v->type = JT_OTHER;
	switch (*c->p) {
	case '"':
		v->type = JT_STRING;
		return parse_string(c, v->str, sizeof v->str);
	case 't': return parse_literal(c, "true");
	case 'f': return parse_literal(c, "false");
	case 'n': return parse_literal(c, "null");
	default: return parse_number(c, v);   /* nested objects and arrays are not ours */
	}
}

static bool take_uint(const struct jvalue *v, uint64_t max, uint64_t *out)
{
	if (v->type != JT_INT || v->num < 0 || (uint64_t)v->num > max)
		return false;
	*out = (uint64_t)v->num;
	return true;
}

static bool take_name(const struct jvalue *v, const char *const *names, size_t n, int *out)
{
	if (v->type != JT_STRING)
		return false;
	int i = name_index(names, n, v->str);
	if (i < 0)
		return false;
	*out = i;
	return true;
}

static bool take_address(const struct jvalue *v, uint32_t *out)
{
	if (v->type != JT_STRING || strncmp(v->str, "0x", 2) != 0)
		return false;
	size_t n = strlen(v->str + 2);
	if (n == 0 || n > 8)
		return false;
	uint32_t a = 0;
	for (size_t i = 0; i < n; i++) {
		int h = hex_val(v->str[2 + i]);
		if (h < 0)
			return false;
		a = a << 4 | (uint32_t)h;
	}
	*out = a;
	return true;
}

/* Copies src, cutting (when it must) before a UTF-8 sequence rather than
 * inside one, so a stored field stays valid text. */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t len = strlen(src);
	if (len >= cap) {
		len = cap - 1;
		while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
			len--;
	}
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* Applies one key; false when the value is not acceptable. Unknown keys are
 * fine (a later version may add some). */
static bool apply_key(const char *key, const struct jvalue *v, struct journal_event *ev, bool *have_v)
{
	uint64_t u;
	int i;
	if (strcmp(key, "v") == 0) {
		*have_v = take_uint(v, 1000, &u) && u == SCHEMA_VERSION;
		return *have_v;
	}
	if (strcmp(key, "ts") == 0) {
		if (v->type != JT_INT)
			return false;
		ev->ts_ms = v->num;
		return true;
	}
	if (strcmp(key, "event") == 0) {
		if (!take_name(v, event_names, COUNT(event_names), &i))
			return false;
		ev->kind = (enum journal_event_kind)i;
		return true;
	}
	if (strcmp(key, "uid") == 0) {
		if (v->type != JT_STRING || !is_uid_hex(v->str))
			return false;
		copy_str(ev->uid, sizeof ev->uid, v->str);
		return true;
	}
	if (strcmp(key, "step") == 0) {
		if (v->type != JT_STRING || (ev->step = plan_step_kind_from_name(v->str)) == STEP_NONE)
			return false;
		return true;
	}
	if (strcmp(key, "path") == 0) {
		if (v->type != JT_STRING || (ev->path = plan_path_from_name(v->str)) == PATH_NONE)
			return false;
		return true;
	}
	if (strcmp(key, "result") == 0) {
		if (v->type != JT_STRING ||
		    (ev->result = step_result_from_name(v->str)) == STEP_RESULT_NONE)
			return false;
		return true;
	}
	if (strcmp(key, "rung") == 0) {
		if (v->type != JT_STRING || (i = attach_from_name(v->str)) < 0)
			return false;
		ev->rung = (enum attach_result)i;
		return true;
	}
	if (strcmp(key, "role") == 0) {
		if (v->type != JT_STRING || (ev->role = image_role_from_name(v->str)) == ROLE_NONE)
			return false;
		return true;
	}
	if (strcmp(key, "sectors") == 0) {
		if (!take_uint(v, 0x0fff, &u))
			return false;
		ev->sectors = (uint16_t)u;
		return true;
	}
	if (strcmp(key, "address") == 0) {
		ev->has_address = take_address(v, &ev->address);
		return ev->has_address;
	}
	if (strcmp(key, "bytes") == 0 || strcmp(key, "offset") == 0) {
		if (!take_uint(v, UINT32_MAX, &u))
			return false;
		*(key[0] == 'b' ? &ev->bytes : &ev->offset) = (uint32_t)u;
		return true;
	}
	if (strcmp(key, "answer") == 0) {
		if (!take_name(v, answer_names, COUNT(answer_names), &i))
			return false;
		ev->answer = (enum bl_answer)i;
		return true;
	}
	if (strcmp(key, "sha256") == 0 || strcmp(key, "backup") == 0 || strcmp(key, "evidence") == 0) {
		if (v->type != JT_STRING)
			return false;
		if (key[0] == 's')
			copy_str(ev->sha256, sizeof ev->sha256, v->str);
		else if (key[0] == 'b')
			copy_str(ev->backup, sizeof ev->backup, v->str);
		else
			copy_str(ev->evidence, sizeof ev->evidence, v->str);
		return true;
	}
	return true;
}

bool journal_parse_line(const char *line, size_t len, struct journal_event *ev)
{
	struct cursor c = {line, line + len};
	bool have_v = false, have_event = false;
	memset(ev, 0, sizeof *ev);
	skip_ws(&c);
	if (c.p >= c.end || *c.p++ != '{')
		return false;
	skip_ws(&c);
	if (c.p < c.end && *c.p == '}')
		return false;   /* {} is valid JSON, but no event */
	for (;;) {
		char key[KEY_MAX];
		struct jvalue v;
		skip_ws(&c);
		if (!parse_string(&c, key, sizeof key))
			return false;
		skip_ws(&c);
		if (c.p >= c.end || *c.p++ != ':')
			return false;
		skip_ws(&c);
		if (!parse_value(&c, &v))
			return false;
		if (strcmp(key, "event") == 0)
			have_event = true;
		if (!apply_key(key, &v, ev, &have_v))
			return false;
		skip_ws(&c);
		if (c.p >= c.end)
			return false;
		char sep = *c.p++;
		if (sep == '}')
			break;
		if (sep != ',')
			return false;
	}
	skip_ws(&c);
	return c.p == c.end && have_v && have_event;
}

/* ---- events into history ------------------------------------------------------------ */

static struct plan_record *open_record(struct plan_history *hist, const struct journal_event *ev)
{
	for (unsigned i = hist->n; i-- > 0;) {
		struct plan_record *r = &hist->rec[i];
		if (r->kind == ev->step && r->role == ev->role && r->path == ev->path &&
		    (r->result == STEP_STARTED || r->result == STEP_INTERRUPTED))
			return r;
	}
	return NULL;
}

static void apply_step(struct plan_history *hist, const struct journal_event *ev)
{
	if (ev->step == STEP_NONE || ev->result == STEP_RESULT_NONE)
		return;
	struct plan_record *r = ev->result == STEP_STARTED ? NULL : open_record(hist, ev);
	if (!r) {
		struct plan_record rec = {
			.kind = ev->step, .path = ev->path, .result = ev->result, .rung = ev->rung,
			.role = ev->role, .sectors = ev->sectors, .bytes_done = ev->offset,
		};
		plan_history_add(hist, &rec);
		return;
	}
	r->result = ev->result;
	if (ev->offset)
		r->bytes_done = ev->offset;
	if (ev->sectors)
		r->sectors = ev->sectors;
}

static void apply_progress(struct plan_history *hist, const struct journal_event *ev)
{
	if (ev->step == STEP_NONE)
		return;
	struct plan_record *r = open_record(hist, ev);
	if (!r) {
		/* Progress implies the step started, even if its "started" line
		 * was never written (writes into blank flash are not destructive). */
		struct plan_record rec = {
			.kind = ev->step, .path = ev->path, .result = STEP_STARTED, .rung = ev->rung,
			.role = ev->role, .sectors = ev->sectors, .bytes_done = ev->offset,
		};
		plan_history_add(hist, &rec);
		return;
	}
	if (ev->offset > r->bytes_done)
		r->bytes_done = ev->offset;
}

static void apply_event(struct plan_history *hist, const struct journal_event *ev,
			struct journal_read_info *info)
{
	switch (ev->kind) {
	case JEV_STEP: apply_step(hist, ev); break;
	case JEV_PROGRESS: apply_progress(hist, ev); break;
	case JEV_ANSWER: hist->bootloader_answer = ev->answer; break;
	case JEV_BACKUP:
		if (ev->backup[0]) {
			hist->backup_verified = true;
			copy_str(hist->backup_path, sizeof hist->backup_path, ev->backup);
		}
		break;
	case JEV_END:
		/* A finished run: the next one plans from scratch (but the backup
		 * of the chip's original content stays worth pointing to). */
		{
			char keep[sizeof hist->backup_path];
			copy_str(keep, sizeof keep, hist->backup_path);
			memset(hist, 0, sizeof *hist);
			copy_str(hist->backup_path, sizeof hist->backup_path, keep);
		}
		info->ended = true;
		return;
	default:
		break;
	}
	info->ended = false;
}

void journal_parse(const char *buf, size_t len, const char *uid_hex,
		   struct plan_history *hist, struct journal_read_info *info)
{
	memset(hist, 0, sizeof *hist);
	memset(info, 0, sizeof *info);
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		if (!nl) {
			info->torn_tail = true;   /* a process died mid-line */
			break;
		}
		size_t line_len = (size_t)(nl - (buf + pos));
		struct journal_event ev;
		info->lines++;
		if (line_len == 0) {
			pos += 1;
			continue;
		}
		if (line_len > JOURNAL_LINE_MAX || !journal_parse_line(buf + pos, line_len, &ev)) {
			info->skipped++;
		} else if (!uid_hex || strcmp(ev.uid, uid_hex) != 0) {
			info->other_chips++;
		} else {
			info->events++;
			apply_event(hist, &ev, info);
		}
		pos += line_len + 1;
	}
	hist->n_from_journal = hist->n;
	if (info->torn_tail)
		snprintf(info->note, sizeof info->note, "the journal's last line is incomplete (a "
			 "process was killed while writing it): ignored");
	if (info->skipped)
		snprintf(info->note + strlen(info->note), sizeof info->note - strlen(info->note),
			 "%s%u journal line%s not understood: ignored", info->note[0] ? "; " : "",
			 info->skipped, info->skipped == 1 ? "" : "s");
}

static vr_err read_tail(int fd, const char *path, off_t size, char **out, size_t *out_len,
			bool *truncated, struct vr_error *err)
{
	off_t start = size > (off_t)JOURNAL_MAX_BYTES ? size - (off_t)JOURNAL_MAX_BYTES : 0;
	size_t want = (size_t)(size - start);
	char *buf = malloc(want + 1);
	if (!buf)
		return vr_fail(err, VR_ERR_NOMEM, "no memory to read the journal");
	size_t got = 0;
	while (got < want) {
		ssize_t n = pread(fd, buf + got, want - got, start + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return vr_fail(err, VR_ERR_IO, "reading the journal %s: %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*truncated = start > 0;
	size_t skip = 0;
	if (*truncated) {
		/* The first line read is most likely cut: start after it. */
		char *nl = memchr(buf, '\n', got);
		skip = nl ? (size_t)(nl - buf) + 1 : got;
	}
	memmove(buf, buf + skip, got - skip);
	*out = buf;
	*out_len = got - skip;
	return VR_OK;
}

vr_err journal_read(const char *path, const char *uid_hex, struct plan_history *hist,
		    struct journal_read_info *info, struct vr_error *err)
{
	memset(hist, 0, sizeof *hist);
	memset(info, 0, sizeof *info);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return VR_OK;
	if (fd < 0)
		return open_error(path, errno, err);
	vr_err rc = check_regular_ours(fd, path, err);
	struct stat st;
	if (rc == VR_OK && fstat(fd, &st) != 0)
		rc = vr_fail(err, VR_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
	char *buf = NULL;
	size_t len = 0;
	bool truncated = false;
	if (rc == VR_OK)
		rc = read_tail(fd, path, st.st_size, &buf, &len, &truncated, err);
	close(fd);
	if (rc != VR_OK)
		return rc;
	journal_parse(buf, len, uid_hex, hist, info);
	free(buf);
	info->truncated = truncated;
	if (truncated) {
		size_t used = strlen(info->note);
		snprintf(info->note + used, sizeof info->note - used, "%sthe journal is over %u MiB: "
			 "only its end was read", used ? "; " : "", JOURNAL_MAX_BYTES >> 20);
	}
	return VR_OK;
}
