/* `recover` in line mode: the same engine the dashboard drives, with the
 * transcript on stderr and confirmations asked on the terminal (or given
 * by --yes / --allow-unprotect, or refused without a terminal: exit 7). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "engine.h"
#include "json.h"
#include "plan_time.h"
#include "report.h"

/* The engine a signal handler may ask to stop at the next safe point. */
static struct engine *signal_target;
/* Set by the handler: the person (or a dropped session) asked us to stop. */
static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
	if (signal_target)
		engine_cancel_from_signal(signal_target);
}

static void install_signals(struct engine *e)
{
	signal_target = e;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A dropped SSH session closes our output; the work must go on to a
	 * safe point regardless. */
	signal(SIGPIPE, SIG_IGN);
	/* Over a file size limit (ulimit -f) a write must fail with EFBIG and
	 * stop the run before any erase, not kill it halfway through a backup. */
	signal(SIGXFSZ, SIG_IGN);
}

struct line_ui {
	struct engine *engine;
	const struct cli_options *opts;
	unsigned log_seen;
	bool refused;
	bool interactive;
};

static void print_new_log(struct line_ui *ui)
{
	char lines[32][ENGINE_LOG_LINE_MAX];
	unsigned n;
	while ((n = engine_log(ui->engine, ui->log_seen, lines, 32)) > 0) {
		for (unsigned i = 0; i < n; i++)
			fprintf(stderr, "  %s\n", lines[i]);
		ui->log_seen += n;
	}
}

static bool ask_tty(const char *question)
{
	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	char answer[16];
	if (!fgets(answer, sizeof answer, stdin))
		return false;
	return answer[0] == 'y' || answer[0] == 'Y';
}

/* A question of fact: only a person answers it, never --yes. */
static void answer_question(struct line_ui *ui, const struct engine_view *v)
{
	fprintf(stderr, "\n== %s\n%s\n", v->confirm.title, v->confirm.body);
	if (!ui->interactive) {
		fprintf(stderr, "no terminal to ask: the answer stays unknown (--yes answers permissions, "
			"not questions of fact)\n");
		engine_answer_unknown(ui->engine);
		return;
	}
	engine_answer(ui->engine, ask_tty("Your answer?"));
}

static void answer_confirm(struct line_ui *ui, const struct engine_view *v)
{
	if (v->confirm.question) {
		answer_question(ui, v);
		return;
	}
	bool allowed_by_flags = ui->opts->yes && (!v->confirm.needs_unprotect || ui->opts->allow_unprotect);
	bool yes = false;
	fprintf(stderr, "\n== %s\n%s\n", v->confirm.title, v->confirm.body);
	if (allowed_by_flags) {
		fprintf(stderr, "(yes: %s)\n", v->confirm.needs_unprotect ? "--yes --allow-unprotect" : "--yes");
		yes = true;
	} else if (ui->interactive) {
		yes = ask_tty(v->confirm.needs_unprotect ? "This removes protection and ERASES. Continue?" : "Continue?");
	} else {
		fprintf(stderr, "no terminal to ask and %s not given: refused\n",
			v->confirm.needs_unprotect ? "--yes --allow-unprotect" : "--yes");
	}
	ui->refused = ui->refused || !yes;
	engine_answer(ui->engine, yes);
}

static void answer_person(struct line_ui *ui, const struct engine_view *v)
{
	fprintf(stderr, "\n== Your turn\n%s\n", v->person_prompt);
	if (!ui->interactive) {
		fprintf(stderr, "no terminal: cannot wait for a person\n");
		engine_person_done(ui->engine, false);
		return;
	}
	fprintf(stderr, "Press Enter when done (or type n and Enter to give up): ");
	fflush(stderr);
	char answer[16];
	bool done = fgets(answer, sizeof answer, stdin) && answer[0] != 'n' && answer[0] != 'N';
	engine_person_done(ui->engine, done);
}

static void print_progress(const struct engine_view *v, double *last_print)
{
	const struct engine_progress *p = &v->progress;
	if (!p->active || !isatty(STDERR_FILENO))
		return;
	if (p->elapsed_s - *last_print < 0.5 && p->elapsed_s >= *last_print)
		return;
	*last_print = p->elapsed_s;
	if (p->total)
		fprintf(stderr, "\r  %s: %llu/%llu bytes", p->what, (unsigned long long)p->done,
			(unsigned long long)p->total);
	else if (p->typical_s > 0)
		fprintf(stderr, "\r  %s: %.1f s (typical %.0f s, max %.0f s)", p->what, p->elapsed_s, p->typical_s,
			p->max_s);
	else
		fprintf(stderr, "\r  %s: %.1f s", p->what, p->elapsed_s);
	fprintf(stderr, "\033[K");
	fflush(stderr);
}

/* Waits until the engine is idle or finished, answering its questions. */
static void wait_engine(struct line_ui *ui, struct engine_view *v)
{
	double last_print = -1;
	for (;;) {
		struct pollfd pfd = {.fd = engine_wakeup_fd(ui->engine), .events = POLLIN};
		poll(&pfd, 1, 200);
		engine_wakeup_drain(ui->engine);
		engine_view(ui->engine, v);
		print_new_log(ui);
		switch (v->phase) {
		case ENGINE_CONFIRM: answer_confirm(ui, v); break;
		case ENGINE_PERSON: answer_person(ui, v); break;
		case ENGINE_IDLE:
		case ENGINE_FINISHED: return;
		default: print_progress(v, &last_print); break;
		}
	}
}

static void request(struct line_ui *ui, enum engine_request req, struct engine_view *v)
{
	char why[120];
	/* The worker may still be publishing the previous request's end. */
	for (int tries = 0; tries < 50 && !engine_request(ui->engine, req, why, sizeof why); tries++)
		usleep(20 * 1000);
	/* Give the worker a moment to leave IDLE before waiting for it. */
	for (int i = 0; i < 100; i++) {
		engine_view(ui->engine, v);
		if (v->phase != ENGINE_IDLE)
			break;
		usleep(2000);
	}
	wait_engine(ui, v);
}

static void print_plan(const struct engine_view *v, FILE *out)
{
	static const char *const marks[] = {
		[ROW_PENDING] = "   ", [ROW_CURRENT] = "-> ", [ROW_DONE] = "ok ", [ROW_FAILED] = "!! ",
		[ROW_SKIPPED] = "-- ",
	};
	double total = 0;
	fprintf(out, "Plan (modeled times: typical, ST-LINK/V2 and STM32F405 datasheet figures):\n");
	fprintf(out, "     %-30s %-12s %-26s %8s\n", "step", "sectors", "bytes", "time");
	for (unsigned i = 0; i < v->n_plan; i++) {
		char t[16];
		plan_time_text(v->plan[i].modeled_s, t, sizeof t);
		const struct engine_plan_row *row = &v->plan[i];
		char bytes[40] = "";
		if (row->bytes && row->address)
			snprintf(bytes, sizeof bytes, "%u bytes at 0x%08X", row->bytes, row->address);
		else if (row->bytes)
			snprintf(bytes, sizeof bytes, "%u bytes", row->bytes);
		fprintf(out, "  %s%-30s %-12s %-26s %8s\n", marks[row->state], row->title,
			row->sectors[0] ? row->sectors : "-", bytes, t);
		if (v->plan[i].state != ROW_DONE && v->plan[i].state != ROW_SKIPPED)
			total += v->plan[i].modeled_s;
	}
	char t[16];
	plan_time_text(total, t, sizeof t);
	if (total > 0)
		fprintf(out, "  %-73s %8s\n", "total (erases can take up to twice as long)", t);
	fprintf(out, "%s\n", v->reason);
}

static void print_json(const struct engine_view *v, bool dry_run)
{
	struct json_writer w;
	json_init(&w, stdout, true);
	json_object_begin(&w, NULL);
	json_int(&w, "schema", 1);
	json_string(&w, "mode", v->simulated ? "sim" : "live");
	json_bool(&w, "dry_run", dry_run);
	json_string(&w, "outcome", v->outcome[0] ? v->outcome : v->reason);
	json_int(&w, "exit_status", v->exit_status);
	json_string(&w, "backup", v->backup_path[0] ? v->backup_path : NULL);
	json_string(&w, "journal", v->journal_path[0] ? v->journal_path : NULL);
	json_array_begin(&w, "plan");
	static const char *const states[] = {"pending", "current", "done", "failed", "skipped"};
	for (unsigned i = 0; i < v->n_plan; i++) {
		json_object_begin(&w, NULL);
		json_string(&w, "step", v->plan[i].title);
		json_string(&w, "state", states[v->plan[i].state]);
		json_string(&w, "detail", v->plan[i].detail);
		json_uint(&w, "bytes", v->plan[i].bytes);
		if (v->plan[i].address)
			json_hex32(&w, "address", v->plan[i].address);
		if (v->plan[i].sectors[0])
			json_string(&w, "sectors", v->plan[i].sectors);
		json_double(&w, "modeled_s", v->plan[i].modeled_s, 2);
		json_object_end(&w);
	}
	json_array_end(&w);
	if (v->have_observations) {
		report_json_usb(&w, &v->obs);
		report_json_serial(&w, &v->obs);
		report_json_swd(&w, &v->obs.swd);
		report_json_verdict(&w, &v->verdict);
	}
	json_object_end(&w);
	json_finish(&w);
}

int cmd_recover(const struct cli_options *opts)
{
	struct engine *e;
	struct vr_error err;
	vr_error_clear(&err);
	if (engine_new(opts, &e, &err))
		return cmd_fail(opts, &err);
	install_signals(e);
	struct line_ui ui = {.engine = e, .opts = opts, .interactive = isatty(STDIN_FILENO) && isatty(STDERR_FILENO)};
	struct engine_view *v = calloc(1, sizeof *v);
	if (!v) {
		engine_free(e);
		return VR_EXIT_INTERNAL;
	}
	request(&ui, ENGINE_REQ_PROBE, v);
	int status;
	if (opts->dry_run) {
		print_plan(v, opts->json ? stderr : stdout);
		status = VR_EXIT_OK;
	} else {
		if (!got_signal)
			request(&ui, ENGINE_REQ_RUN_ON, v);
		/* A signal stops the run at the next step boundary (the engine
		 * finishes the step in hand): going on would ignore it. */
		if (v->phase != ENGINE_FINISHED && !got_signal)
			request(&ui, ENGINE_REQ_RUN_ON, v);
		status = v->phase == ENGINE_FINISHED ? v->exit_status : (ui.refused ? VR_EXIT_CONFIRM : VR_EXIT_FAILED);
		if (v->phase != ENGINE_FINISHED && got_signal) {
			status = VR_EXIT_INTERRUPTED;
			snprintf(v->outcome, sizeof v->outcome, "interrupted by a signal between two steps: the "
				 "step in hand was finished and journaled. Run vesc-rescue recover again to finish.");
		}
		if (!opts->json)
			fprintf(stdout, "%s\n", v->outcome[0] ? v->outcome : v->reason);
	}
	if (opts->json) {
		v->exit_status = status;
		print_json(v, opts->dry_run);
	}
	signal_target = NULL;
	engine_free(e);
	free(v);
	return status;
}
