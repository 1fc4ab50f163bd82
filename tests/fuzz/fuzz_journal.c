/* libFuzzer harness for the journal reader (tests/run-fuzz.sh).
 *
 * Properties: the reader never crashes or reads out of bounds on any bytes;
 * every line it accepts formats back into one valid line that parses to the
 * same event fields; and the planner, fed the resulting history, always
 * ends in a step or an outcome, never an internal error. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"

#define UID "0123456789abcdef01234567"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_same(const struct journal_event *a, const struct journal_event *b)
{
	if (a->kind != b->kind || a->ts_ms != b->ts_ms || a->step != b->step || a->path != b->path ||
	    a->result != b->result || a->rung != b->rung || a->role != b->role ||
	    a->sectors != b->sectors || a->has_address != b->has_address ||
	    a->address != b->address || a->bytes != b->bytes || a->offset != b->offset ||
	    a->answer != b->answer || strcmp(a->uid, b->uid) != 0)
		abort();
}

static void round_trip_lines(const char *buf, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		struct journal_event ev, back;
		if (journal_parse_line(buf + pos, line_len, &ev)) {
			char out[JOURNAL_LINE_MAX];
			size_t n = journal_format(&ev, out, sizeof out);
			if (n == 0 || out[n - 1] != '\n' || memchr(out, '\n', n - 1))
				abort();
			if (!journal_parse_line(out, n - 1, &back))
				abort();
			check_same(&ev, &back);
		}
		pos += line_len + 1;
	}
}

static void plan_from(const struct plan_history *hist)
{
	static const int variants = 3;
	for (int v = 0; v < variants; v++) {
		struct observations obs;
		memset(&obs, 0, sizeof obs);
		obs.swd.tried = obs.swd.probe_found = obs.swd.target_found = true;
		obs.swd.survey_done = v != 2;
		obs.swd.rdp = v == 2 ? 1 : 0;
		obs.swd.optcr = 0x0FFFAAEC;
		obs.swd.nwrp = 0x0FFF;
		obs.swd.bootloader.present = v == 0;
		obs.swd.app.vector_valid = true;
		obs.swd.app.crc_checked = true;
		struct plan_options opts;
		memset(&opts, 0, sizeof opts);
		opts.bootloader.present = opts.firmware.present = true;
		opts.bootloader.size = 5280;
		opts.firmware.size = 524280;
		opts.firmware.major = 6;
		opts.keep_config = v == 1;
		struct plan plan;
		plan_build(&obs, &opts, hist, &plan);
		if (plan.decision.exit_status == 70)
			abort();
		if (plan.decision.outcome == PLAN_CONTINUE &&
		    (plan.current < 0 || plan.decision.step.kind == STEP_NONE))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct plan_history hist;
	struct journal_read_info info;
	journal_parse(buf, size, UID, &hist, &info);
	if (hist.n > PLAN_MAX_RECORDS || hist.n_from_journal > hist.n)
		abort();
	round_trip_lines(buf, size);
	plan_from(&hist);
	return 0;
}
