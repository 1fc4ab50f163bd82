/* The resume journal: file rules (0600, O_EXCL, O_NOFOLLOW), the JSONL
 * round trip, a torn last line, other chips, size cap, hostile lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "journal.h"

#define UID_A "0123456789abcdef01234567"
#define UID_B "ffffffffffffffffffffffff"

struct tmp {
	char dir[64];
	char path[128];
};

static int tmp_setup(void **state)
{
	struct tmp *t = calloc(1, sizeof *t);
	if (!t)
		return -1;
	snprintf(t->dir, sizeof t->dir, "/tmp/vr-journal-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof t->path, "%s/journal.jsonl", t->dir);
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
	int rc = system(cmd);
	free(t);
	return rc == 0 ? 0 : -1;
}

static struct journal_event step_event(enum plan_step_kind step, enum image_role role,
				       enum step_result result, uint32_t offset)
{
	struct journal_event ev;
	memset(&ev, 0, sizeof ev);
	ev.kind = JEV_STEP;
	ev.ts_ms = 1763770367123;
	snprintf(ev.uid, sizeof ev.uid, "%s", UID_A);
	ev.step = step;
	ev.path = PATH_CANONICAL;
	ev.role = role;
	ev.result = result;
	ev.offset = offset;
	return ev;
}

static void append_ok(struct journal *j, const struct journal_event *ev)
{
	struct vr_error err = {0};
	assert_int_equal(journal_append(j, ev, true, &err), VR_OK);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
}

static void round_trip_into_history(void **state)
{
	struct tmp *t = *state;
	struct journal j;
	struct vr_error err = {0};
	assert_int_equal(journal_open(&j, t->path, &err), VR_OK);
	struct stat st;
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	struct journal_event ev = step_event(STEP_BACKUP, ROLE_BACKUP, STEP_OK, 0);
	ev.sectors = 0x8FF;
	append_ok(&j, &ev);
	struct journal_event b = step_event(STEP_NONE, ROLE_NONE, STEP_RESULT_NONE, 0);
	b.kind = JEV_BACKUP;
	snprintf(b.backup, sizeof b.backup, "/home/u/backup-%s.bin", UID_A);
	append_ok(&j, &b);
	ev = step_event(STEP_MASS_ERASE, ROLE_NONE, STEP_STARTED, 0);
	append_ok(&j, &ev);
	ev = step_event(STEP_MASS_ERASE, ROLE_NONE, STEP_OK, 0);
	ev.sectors = 0xFFF;
	append_ok(&j, &ev);
	ev = step_event(STEP_WRITE_FIRMWARE, ROLE_FIRMWARE, STEP_STARTED, 0);
	ev.has_address = true;
	ev.address = 0x08000000;
	ev.bytes = 524280;
	snprintf(ev.sha256, sizeof ev.sha256, "%064d", 7);
	append_ok(&j, &ev);
	ev.kind = JEV_PROGRESS;
	ev.result = STEP_RESULT_NONE;
	ev.offset = 16384;
	append_ok(&j, &ev);
	ev.offset = 32768;
	append_ok(&j, &ev);
	struct journal_event a = step_event(STEP_NONE, ROLE_NONE, STEP_RESULT_NONE, 0);
	a.kind = JEV_ANSWER;
	a.answer = BL_ANSWER_MISSING;
	append_ok(&j, &a);
	journal_close(&j);

	struct plan_history h;
	struct journal_read_info info;
	assert_int_equal(journal_read(t->path, UID_A, &h, &info, &err), VR_OK);
	assert_int_equal(info.lines, 8);
	assert_int_equal(info.events, 8);
	assert_int_equal(info.skipped, 0);
	assert_false(info.torn_tail);
	assert_int_equal(h.n, 3);
	assert_int_equal(h.n_from_journal, 3);
	assert_int_equal(h.rec[0].kind, STEP_BACKUP);
	assert_int_equal(h.rec[0].sectors, 0x8FF);
	assert_int_equal(h.rec[1].kind, STEP_MASS_ERASE);
	assert_int_equal(h.rec[1].result, STEP_OK);      /* started then ok: one record */
	assert_int_equal(h.rec[1].path, PATH_CANONICAL);
	assert_int_equal(h.rec[2].kind, STEP_WRITE_FIRMWARE);
	assert_int_equal(h.rec[2].result, STEP_STARTED); /* killed mid-write */
	assert_int_equal(h.rec[2].bytes_done, 32768);
	assert_int_equal(h.rec[2].role, ROLE_FIRMWARE);
	assert_true(h.backup_verified);
	assert_non_null(strstr(h.backup_path, UID_A));
	assert_int_equal(h.bootloader_answer, BL_ANSWER_MISSING);

	/* The same line formatted again is byte-identical to what is on disk. */
	char line[JOURNAL_LINE_MAX];
	size_t len = journal_format(&ev, line, sizeof line);
	assert_true(len > 0);
	assert_int_equal(line[len - 1], '\n');
	struct journal_event back;
	assert_true(journal_parse_line(line, len - 1, &back));
	assert_int_equal(back.kind, JEV_PROGRESS);
	assert_int_equal(back.offset, 32768);
	assert_int_equal(back.address, 0x08000000);
	assert_true(back.has_address);
	assert_int_equal(back.bytes, 524280);
	assert_string_equal(back.sha256, ev.sha256);
	assert_int_equal(back.ts_ms, 1763770367123);
	assert_non_null(strstr(line, "\"address\":\"0x08000000\""));
}

static void reopen_appends_and_excl_creates(void **state)
{
	struct tmp *t = *state;
	struct journal j;
	struct vr_error err = {0};
	for (int run = 0; run < 2; run++) {
		assert_int_equal(journal_open(&j, t->path, &err), VR_OK);
		struct journal_event ev = step_event(STEP_SURVEY, ROLE_NONE, STEP_OK, 0);
		ev.path = PATH_DIAGNOSE;
		ev.ts_ms = 0;   /* the writer stamps it */
		append_ok(&j, &ev);
		journal_close(&j);
	}
	struct plan_history h;
	struct journal_read_info info;
	assert_int_equal(journal_read(t->path, UID_A, &h, &info, &err), VR_OK);
	assert_int_equal(info.lines, 2);
	assert_int_equal(h.n, 2);
	/* a journal left readable by others is made private on open */
	assert_int_equal(chmod(t->path, 0644), 0);
	assert_int_equal(journal_open(&j, t->path, &err), VR_OK);
	journal_close(&j);
	struct stat st;
	assert_int_equal(stat(t->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	FILE *f = fopen(t->path, "r");
	char line[512];
	assert_non_null(fgets(line, sizeof line, f));
	fclose(f);
	assert_null(strstr(line, "\"ts\":0,"));
}

static void torn_last_line_is_ignored(void **state)
{
	struct tmp *t = *state;
	write_file(t->path,
		   "{\"v\":1,\"ts\":1,\"event\":\"step\",\"uid\":\"" UID_A "\",\"step\":\"backup\","
		   "\"path\":\"canonical\",\"result\":\"ok\",\"role\":\"backup\",\"sectors\":2303}\n"
		   "{\"v\":1,\"ts\":2,\"event\":\"step\",\"uid\":\"" UID_A "\",\"step\":\"mass-erase\","
		   "\"path\":\"canonical\",\"result\":\"ok\"}\n"
		   "{\"v\":1,\"ts\":3,\"event\":\"step\",\"uid\":\"" UID_A "\",\"step\":\"write-bootl");
	struct plan_history h;
	struct journal_read_info info;
	struct vr_error err = {0};
	assert_int_equal(journal_read(t->path, UID_A, &h, &info, &err), VR_OK);
	assert_true(info.torn_tail);
	assert_int_equal(info.lines, 2);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.rec[1].kind, STEP_MASS_ERASE);
	assert_non_null(strstr(info.note, "incomplete"));
}

static void symlink_is_refused(void **state)
{
	struct tmp *t = *state;
	char target[160];
	snprintf(target, sizeof target, "%s/elsewhere", t->dir);
	write_file(target, "precious\n");
	assert_int_equal(symlink(target, t->path), 0);
	struct journal j;
	struct vr_error err = {0};
	assert_int_not_equal(journal_open(&j, t->path, &err), VR_OK);
	assert_non_null(strstr(err.msg, "symbolic link"));
	assert_int_equal(j.fd, -1);
	struct plan_history h;
	struct journal_read_info info;
	assert_int_not_equal(journal_read(t->path, UID_A, &h, &info, &err), VR_OK);
	/* the link's target is untouched */
	FILE *f = fopen(target, "r");
	char buf[32] = {0};
	assert_non_null(fgets(buf, sizeof buf, f));
	fclose(f);
	assert_string_equal(buf, "precious\n");
}

static void directory_is_refused_and_missing_is_empty(void **state)
{
	struct tmp *t = *state;
	struct plan_history h;
	struct journal_read_info info;
	struct vr_error err = {0};
	assert_int_equal(journal_read(t->path, UID_A, &h, &info, &err), VR_OK);
	assert_int_equal(h.n, 0);
	assert_int_equal(mkdir(t->path, 0700), 0);
	struct journal j;
	assert_int_not_equal(journal_open(&j, t->path, &err), VR_OK);
}

static void other_chips_and_finished_runs(void **state)
{
	struct tmp *t = *state;
	write_file(t->path,
		   "{\"v\":1,\"ts\":1,\"event\":\"step\",\"uid\":\"" UID_A "\",\"step\":\"backup\","
		   "\"path\":\"canonical\",\"result\":\"ok\",\"role\":\"backup\"}\n"
		   "{\"v\":1,\"ts\":2,\"event\":\"end\",\"uid\":\"" UID_A "\"}\n"
		   "{\"v\":1,\"ts\":3,\"event\":\"step\",\"uid\":\"" UID_B "\",\"step\":\"mass-erase\","
		   "\"path\":\"canonical\",\"result\":\"ok\"}\n"
		   "{\"v\":1,\"ts\":4,\"event\":\"step\",\"uid\":\"" UID_A "\",\"step\":\"sector-erase\","
		   "\"path\":\"keep-config\",\"result\":\"interrupted\",\"sectors\":249}\n");
	struct plan_history h;
	struct journal_read_info info;
	struct vr_error err = {0};
	assert_int_equal(journal_read(t->path, UID_A, &h, &info, &err), VR_OK);
	assert_int_equal(info.other_chips, 1);
	assert_false(info.ended);
	assert_int_equal(h.n, 1);   /* the finished run before "end" is gone */
	assert_int_equal(h.rec[0].kind, STEP_SECTOR_ERASE);
	assert_int_equal(h.rec[0].path, PATH_KEEP_CONFIG);
	assert_int_equal(h.rec[0].sectors, 249);
	assert_int_equal(h.rec[0].result, STEP_INTERRUPTED);
	assert_int_equal(journal_read(t->path, UID_B, &h, &info, &err), VR_OK);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.rec[0].kind, STEP_MASS_ERASE);
}

static void progress_without_started_line(void **state)
{
	(void)state;
	/* Writes into blank flash may log only progress lines before a kill. */
	const char *file =
		"{\"v\":1,\"ts\":1,\"event\":\"progress\",\"uid\":\"" UID_A "\",\"step\":\"write-firmware\","
		"\"path\":\"firmware-only\",\"result\":\"started\",\"role\":\"firmware\",\"offset\":65536}\n"
		"{\"v\":1,\"ts\":2,\"event\":\"progress\",\"uid\":\"" UID_A "\",\"step\":\"write-firmware\","
		"\"path\":\"firmware-only\",\"result\":\"started\",\"role\":\"firmware\",\"offset\":131072}\n"
		"{\"v\":1,\"ts\":3,\"event\":\"step\",\"uid\":\"" UID_A "\",\"step\":\"write-firmware\","
		"\"path\":\"firmware-only\",\"result\":\"interrupted\",\"role\":\"firmware\"}\n";
	struct plan_history h;
	struct journal_read_info info;
	journal_parse(file, strlen(file), UID_A, &h, &info);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.rec[0].result, STEP_INTERRUPTED);
	assert_int_equal(h.rec[0].bytes_done, 131072);
	assert_int_equal(h.rec[0].path, PATH_FIRMWARE_ONLY);
}

static void strings_are_escaped(void **state)
{
	(void)state;
	struct journal_event ev = step_event(STEP_VERIFY, ROLE_NONE, STEP_FAILED, 0);
	const char *nasty = "say \"hi\"\\ back\nnew\tline \x01 \xc2\xb5s \xff end";
	snprintf(ev.evidence, sizeof ev.evidence, "%s", nasty);
	char line[JOURNAL_LINE_MAX];
	size_t len = journal_format(&ev, line, sizeof line);
	assert_true(len > 0);
	assert_null(memchr(line, '\n', len - 1));   /* one event, one line */
	assert_non_null(strstr(line, "\\\"hi\\\""));
	assert_non_null(strstr(line, "\\u0001"));
	assert_non_null(strstr(line, "\\ufffd"));
	struct journal_event back;
	assert_true(journal_parse_line(line, len - 1, &back));
	assert_string_equal(back.evidence,
			    "say \"hi\"\\ back\nnew\tline \x01 \xc2\xb5s \xef\xbf\xbd end");
	/* \u escapes and surrogate pairs decode to UTF-8 */
	const char *in = "{\"v\":1,\"event\":\"note\",\"evidence\":\"\\u00b5\\ud83d\\ude00\\ud800x\\/\"}";
	assert_true(journal_parse_line(in, strlen(in), &back));
	assert_string_equal(back.evidence, "\xc2\xb5\xf0\x9f\x98\x80\xef\xbf\xbdx/");
}

static void hostile_lines_are_rejected(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "[]", "{}", "{\"v\":1}", "{\"event\":\"step\"}",
		"{\"v\":2,\"event\":\"step\"}",
		"{\"v\":1,\"event\":\"explode\"}",
		"{\"v\":1,\"event\":\"step\",\"uid\":\"XYZ\"}",
		"{\"v\":1,\"event\":\"step\",\"uid\":\"0123456789ABCDEF01234567\"}",
		"{\"v\":1,\"event\":\"step\",\"x\":{\"nested\":1}}",
		"{\"v\":1,\"event\":\"step\",\"x\":[1]}",
		"{\"v\":1,\"event\":\"step\"} trailing",
		"{\"v\":1,\"event\":\"step\",\"sectors\":4096}",
		"{\"v\":1,\"event\":\"step\",\"bytes\":-1}",
		"{\"v\":1,\"event\":\"step\",\"offset\":1.5}",
		"{\"v\":1,\"event\":\"step\",\"offset\":99999999999999999999999}",
		"{\"v\":1,\"event\":\"step\",\"address\":\"0x123456789\"}",
		"{\"v\":1,\"event\":\"step\",\"step\":\"dance\"}",
		"{\"v\":1,\"event\":\"step\",\"evidence\":\"unterminated}",
		"{\"v\":1,\"event\":\"step\",\"evidence\":\"bad \\x escape\"}",
		"{\"v\":1,\"event\":\"step\",\"evidence\":\"raw\ttab\"}",
		"{\"v\":1,\"event\":\"step\",,}",
		"{\"v\":1 \"event\":\"step\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct journal_event ev;
		if (journal_parse_line(bad[i], strlen(bad[i]), &ev))
			fail_msg("accepted: %s", bad[i]);
	}
	/* unknown keys are fine: a later version may add some */
	const char *ok = " {\"v\":1, \"event\":\"note\", \"future\":true, \"n\":null, \"f\":-2.5e3} ";
	struct journal_event ev;
	assert_true(journal_parse_line(ok, strlen(ok), &ev));
	/* in a file, bad lines are counted, not fatal */
	const char *file = "garbage\n{\"v\":1,\"event\":\"step\",\"uid\":\"" UID_A "\",\"step\":\"survey\","
			   "\"path\":\"diagnose\",\"result\":\"ok\"}\n\n";
	struct plan_history h;
	struct journal_read_info info;
	journal_parse(file, strlen(file), UID_A, &h, &info);
	assert_int_equal(info.skipped, 1);
	assert_int_equal(h.n, 1);
	assert_non_null(strstr(info.note, "not understood"));
	journal_parse(file, strlen(file), NULL, &h, &info);
	assert_int_equal(h.n, 0);
}

static void default_path_and_dirs(void **state)
{
	struct tmp *t = *state;
	char out[256];
	struct vr_error err = {0};
	assert_int_equal(journal_default_path("/x/state", "/home/u", UID_A, out, sizeof out, &err), VR_OK);
	assert_string_equal(out, "/x/state/vesc-rescue/journal-" UID_A ".jsonl");
	assert_int_equal(journal_default_path("relative", "/home/u", UID_A, out, sizeof out, &err), VR_OK);
	assert_string_equal(out, "/home/u/.local/state/vesc-rescue/journal-" UID_A ".jsonl");
	assert_int_equal(journal_default_path(NULL, "/home/u", UID_A, out, sizeof out, &err), VR_OK);
	assert_int_not_equal(journal_default_path("", "", UID_A, out, sizeof out, &err), VR_OK);
	assert_int_not_equal(journal_default_path("/x", NULL, UID_A, out, 10, &err), VR_OK);

	uint8_t uid[12] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67};
	char hex[JOURNAL_UID_HEX];
	journal_uid_hex(uid, hex);
	assert_string_equal(hex, UID_A);

	char deep[200];
	snprintf(deep, sizeof deep, "%s/state", t->dir);
	assert_int_equal(journal_default_path(deep, NULL, hex, out, sizeof out, &err), VR_OK);
	assert_int_equal(journal_make_dirs(out, &err), VR_OK);
	char made[220];
	snprintf(made, sizeof made, "%s/state/vesc-rescue", t->dir);
	struct stat st;
	assert_int_equal(stat(made, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	struct journal j;
	assert_int_equal(journal_open(&j, out, &err), VR_OK);
	journal_close(&j);
}

static void oversized_journal_reads_its_tail(void **state)
{
	struct tmp *t = *state;
	FILE *f = fopen(t->path, "w");
	assert_non_null(f);
	chmod(t->path, 0600);
	const char *other = "{\"v\":1,\"ts\":1,\"event\":\"note\",\"uid\":\"" UID_B "\",\"evidence\":"
			    "\"padding padding padding padding padding padding padding padding\"}\n";
	size_t written = 0;
	while (written < JOURNAL_MAX_BYTES + 200000) {
		fputs(other, f);
		written += strlen(other);
	}
	fputs("{\"v\":1,\"ts\":2,\"event\":\"step\",\"uid\":\"" UID_A "\",\"step\":\"backup\","
	      "\"path\":\"canonical\",\"result\":\"ok\",\"role\":\"backup\"}\n", f);
	fclose(f);
	struct plan_history h;
	struct journal_read_info info;
	struct vr_error err = {0};
	assert_int_equal(journal_read(t->path, UID_A, &h, &info, &err), VR_OK);
	assert_true(info.truncated);
	assert_int_equal(info.skipped, 0);   /* the cut first line was dropped, not parsed */
	assert_int_equal(h.n, 1);
	assert_non_null(strstr(info.note, "only its end"));
}

static void journal_feeds_the_planner(void **state)
{
	struct tmp *t = *state;
	/* A run killed while writing the firmware, then read back and planned. */
	struct journal j;
	struct vr_error err = {0};
	assert_int_equal(journal_open(&j, t->path, &err), VR_OK);
	struct journal_event ev = step_event(STEP_BACKUP, ROLE_BACKUP, STEP_OK, 0);
	ev.sectors = 0x8FF;
	append_ok(&j, &ev);
	ev = step_event(STEP_MASS_ERASE, ROLE_NONE, STEP_OK, 0);
	append_ok(&j, &ev);
	ev = step_event(STEP_WRITE_BOOTLOADER, ROLE_BOOTLOADER, STEP_OK, 0);
	ev.sectors = 0x800;
	append_ok(&j, &ev);
	ev = step_event(STEP_WRITE_FIRMWARE, ROLE_FIRMWARE, STEP_STARTED, 0);
	append_ok(&j, &ev);
	ev.kind = JEV_PROGRESS;
	ev.result = STEP_RESULT_NONE;
	ev.offset = 98304;
	append_ok(&j, &ev);
	journal_close(&j);

	struct plan_history h;
	struct journal_read_info info;
	assert_int_equal(journal_read(t->path, UID_A, &h, &info, &err), VR_OK);
	struct observations o;
	memset(&o, 0, sizeof o);
	o.swd.tried = o.swd.probe_found = o.swd.target_found = o.swd.survey_done = true;
	o.swd.bootloader.present = true;
	o.swd.app.vector_valid = true;
	o.swd.app.crc_checked = true;
	struct plan_options p;
	memset(&p, 0, sizeof p);
	p.bootloader.present = p.firmware.present = true;
	p.bootloader.size = 5280;
	p.firmware.size = 524280;
	struct plan_decision d;
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_CONTINUE);
	assert_int_equal(d.step.kind, STEP_WRITE_FIRMWARE);
	assert_int_equal(d.step.resume_offset, 98304);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip_into_history, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(reopen_appends_and_excl_creates, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(torn_last_line_is_ignored, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(symlink_is_refused, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(directory_is_refused_and_missing_is_empty, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(other_chips_and_finished_runs, tmp_setup, tmp_teardown),
		cmocka_unit_test(progress_without_started_line),
		cmocka_unit_test(strings_are_escaped),
		cmocka_unit_test(hostile_lines_are_rejected),
		cmocka_unit_test_setup_teardown(default_path_and_dirs, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(oversized_journal_reads_its_tail, tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(journal_feeds_the_planner, tmp_setup, tmp_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
