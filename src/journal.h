/* The resume journal (CONTRACTS.md §2): JSONL, one flat JSON object per
 * event, appended; read back into the planner's history so a second run can
 * skip what is verifiably done.
 *
 * File rules: opened O_APPEND|O_NOFOLLOW|O_CLOEXEC, created O_EXCL with mode
 * 0600, refused unless it is a regular file of ours; fsync after every event
 * of a destructive step. Default path:
 * $XDG_STATE_HOME/vesc-rescue/journal-<UID>.jsonl (~/.local/state/... when
 * XDG_STATE_HOME is unset), directories created 0700.
 *
 * One line, keys in this order, absent ones left out:
 *   {"v":1,"ts":1763770367123,"event":"step","uid":"<24 hex>","step":"mass-erase",
 *    "path":"canonical","result":"ok","rung":"normal","role":"firmware",
 *    "sectors":4095,"address":"0x08000000","bytes":524280,"offset":16384,
 *    "sha256":"<64 hex>","backup":"/path","answer":"missing","evidence":"..."}
 * event: "start" (a run begins), "step" (a step's result: started, ok,
 * failed, interrupted, refused), "progress" (a write reached "offset"),
 * "answer" (the person's answer about the bootloader), "backup" (a verified
 * backup was written to "backup"), "end" (a run finished: a later run starts
 * from scratch), "note". */
#ifndef VR_JOURNAL_H
#define VR_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "planner.h"

#define JOURNAL_MAX_BYTES (4u * 1024u * 1024u)  /* the reader looks at the last 4 MiB */
#define JOURNAL_LINE_MAX 4096
#define JOURNAL_UID_HEX 25                       /* 24 hex digits + NUL */

enum journal_event_kind {
	JEV_NOTE = 0,
	JEV_START,
	JEV_STEP,
	JEV_PROGRESS,
	JEV_ANSWER,
	JEV_BACKUP,
	JEV_END,
	JEV_COUNT_
};

struct journal_event {
	enum journal_event_kind kind;
	int64_t ts_ms;                 /* 0: the writer stamps the current time */
	char uid[JOURNAL_UID_HEX];     /* chip UID, 24 lowercase hex digits */
	enum plan_step_kind step;
	enum plan_path path;
	enum step_result result;
	enum attach_result rung;
	enum image_role role;
	uint16_t sectors;
	bool has_address;
	uint32_t address;
	uint32_t bytes;
	uint32_t offset;               /* block offset reached by a write */
	char sha256[65];               /* image hash, lowercase hex */
	char backup[256];
	enum bl_answer answer;
	char evidence[300];
};

struct journal {
	int fd;
	char path[512];
};

/* What reading found, besides the history. */
struct journal_read_info {
	unsigned lines;                /* complete lines seen */
	unsigned events;               /* events for this chip applied */
	unsigned skipped;              /* lines not understood (ignored) */
	unsigned other_chips;          /* events of other UIDs (ignored) */
	bool torn_tail;                /* the last line had no newline: ignored */
	bool truncated;                /* larger than JOURNAL_MAX_BYTES: only the tail read */
	bool ended;                    /* the last run of this chip finished ("end") */
	char note[240];                /* for the person, when anything was ignored */
};

/* Formats a 12-byte UID as 24 lowercase hex digits. */
void journal_uid_hex(const uint8_t uid[12], char out[JOURNAL_UID_HEX]);

/* The default path from the environment values given (either may be NULL
 * or empty). */
vr_err journal_default_path(const char *xdg_state_home, const char *home, const char *uid_hex,
			    char *out, size_t cap, struct vr_error *err);

/* Creates the parent directories of path with mode 0700 (existing ones are
 * left as they are). */
vr_err journal_make_dirs(const char *path, struct vr_error *err);

/* Opens (creating when new) the journal at path for appending. */
vr_err journal_open(struct journal *j, const char *path, struct vr_error *err);

/* Appends one event; fsync when sync is true (events of destructive steps). */
vr_err journal_append(struct journal *j, const struct journal_event *ev, bool sync,
		      struct vr_error *err);

void journal_close(struct journal *j);

/* Formats one event as a JSON line with its newline; returns the length, or
 * 0 when it does not fit (cap >= JOURNAL_LINE_MAX always fits). */
size_t journal_format(const struct journal_event *ev, char *out, size_t cap);

/* Parses one line (without newline) into ev. false: not a journal event. */
bool journal_parse_line(const char *line, size_t len, struct journal_event *ev);

/* Parses a whole journal held in memory into the history of chip uid_hex
 * (events since its last "end"). Never fails: what it cannot use it counts
 * in info and says so in info->note. */
void journal_parse(const char *buf, size_t len, const char *uid_hex,
		   struct plan_history *hist, struct journal_read_info *info);

/* Reads the journal at path (refusing symlinks). A missing file is an empty
 * history and VR_OK. */
vr_err journal_read(const char *path, const char *uid_hex, struct plan_history *hist,
		    struct journal_read_info *info, struct vr_error *err);

const char *journal_event_kind_name(enum journal_event_kind kind);
const char *bl_answer_name(enum bl_answer answer);

#endif
