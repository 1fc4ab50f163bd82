#include "engine_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor.h"
#include "plan_time.h"
#include "planner.h"
#include "session.h"
#include "verdict.h"

/* A person running on through a recovery meets a terminal outcome within a
 * dozen steps; more than this means the plan does not move, a bug. */
#define MAX_STEPS_PER_RUN 48

struct engine_run {
	struct session *session;
	struct executor exec;
	struct observations obs;
	bool have_obs;
	struct verdict verdict;
	struct plan plan;
	bool finished;
	int exit_status;
	char outcome[300];
	char reason[300];
	unsigned steps_run;
	enum plan_step_kind last_failed;
	unsigned repeat_failures;
};

vr_err engine_run_new(struct session *s, struct engine_run **out, struct vr_error *err)
{
	struct engine_run *r = calloc(1, sizeof *r);
	if (!r)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory");
	r->session = s;
	vr_err rc = executor_init(&r->exec, s, err);
	if (rc) {
		executor_free(&r->exec);
		free(r);
		return rc;
	}
	r->obs.swd.rdp = -1;
	snprintf(r->reason, sizeof r->reason, "Press r to look at USB, the serial ports and SWD.");
	*out = r;
	return VR_OK;
}

void engine_run_free(struct engine_run *r)
{
	if (!r)
		return;
	executor_free(&r->exec);
	free(r);
}

static void replan(struct engine_run *r)
{
	verdict_compute(&r->obs, &r->verdict);
	plan_build(&r->obs, &r->exec.plan_opts, &r->exec.history, &r->plan);
	const struct plan_decision *d = &r->plan.decision;
	if (d->outcome == PLAN_CONTINUE)
		snprintf(r->reason, sizeof r->reason, "%s", d->step.reason);
	else
		snprintf(r->reason, sizeof r->reason, "%s", d->message);
}

void engine_run_probe(struct engine_run *r, const struct run_hooks *hooks)
{
	struct vr_error err;
	session_probe_all(r->session, hooks, &r->obs, &err);
	r->have_obs = true;
	executor_observed(&r->exec, &r->obs, hooks);
	/* Looking again is the person's way of saying "ask me again": a No
	 * given before must not block the fresh plan. What was done stays. */
	while (r->exec.history.n > r->exec.history.n_from_journal &&
	       r->exec.history.rec[r->exec.history.n - 1].result == STEP_REFUSED)
		r->exec.history.n--;
	r->finished = false;
	r->exit_status = 0;
	r->outcome[0] = '\0';
	r->steps_run = 0;
	replan(r);
	hooks_log(hooks, "verdict: %s", r->verdict.summary);
	if (r->verdict.next[0])
		hooks_log(hooks, "next: %s", r->verdict.next);
}

static enum engine_run_result finish(struct engine_run *r, const struct plan_decision *d,
				     const struct run_hooks *hooks)
{
	r->finished = true;
	r->exit_status = d->exit_status;
	snprintf(r->outcome, sizeof r->outcome, "%s", d->message);
	hooks_log(hooks, "%s: %s", plan_outcome_name(d->outcome), d->message);
	if (d->evidence[0])
		hooks_log(hooks, "evidence: %s", d->evidence);
	executor_finish(&r->exec, d);
	/* Whatever the outcome, leave the VESC running its firmware. */
	session_release_target(r->session);
	return ENGINE_STEP_FINISHED;
}

enum engine_run_result engine_run_step(struct engine_run *r, const struct run_hooks *hooks)
{
	if (!r->have_obs)
		engine_run_probe(r, hooks);
	if (r->finished)
		return ENGINE_STEP_FINISHED;
	struct plan_decision d;
	plan_next(&r->obs, &r->exec.plan_opts, &r->exec.history, &d);
	if (d.note[0])
		hooks_log(hooks, "note: %s", d.note);
	if (d.outcome != PLAN_CONTINUE)
		return finish(r, &d, hooks);
	if (++r->steps_run > MAX_STEPS_PER_RUN) {
		d.outcome = PLAN_FAILED;
		d.exit_status = VR_EXIT_INTERNAL;
		snprintf(d.message, sizeof d.message, "the plan did not progress after %u steps (a bug: "
			 "please report it with the log)", MAX_STEPS_PER_RUN);
		return finish(r, &d, hooks);
	}
	enum step_result result = executor_run(&r->exec, &d.step, &r->obs, hooks);
	replan(r);
	if (result == STEP_OK) {
		r->repeat_failures = 0;
		return ENGINE_STEP_CONTINUE;
	}
	if (result == STEP_FAILED && r->exec.last_rc == VR_ERR_INPUT) {
		/* An input file went bad under us (changed on disk since it was
		 * checked): retrying cannot help; the person must look at it. */
		d.outcome = PLAN_NEEDS_PERSON;
		d.exit_status = VR_EXIT_INPUT;
		snprintf(d.message, sizeof d.message, "Stopped at \"%s\": %s. The chip is as the journal "
			 "says; run recover again with the right file to finish.", d.step.title, r->exec.last_error);
		d.evidence[0] = '\0';
		return finish(r, &d, hooks);
	}
	if (result == STEP_FAILED && d.step.kind != r->last_failed) {
		/* The planner knows what a failure means (the next rung, a
		 * diagnosis): let it decide, but never loop on one failure. */
		r->last_failed = d.step.kind;
		return ENGINE_STEP_CONTINUE;
	}
	if (result == STEP_FAILED || result == STEP_REFUSED) {
		plan_next(&r->obs, &r->exec.plan_opts, &r->exec.history, &d);
		if (d.outcome != PLAN_CONTINUE)
			return finish(r, &d, hooks);
	}
	if (result == STEP_INTERRUPTED) {
		r->finished = true;
		r->exit_status = VR_EXIT_INTERRUPTED;
		snprintf(r->outcome, sizeof r->outcome, "interrupted during \"%s\": %s. The journal has the "
			 "state; run vesc-rescue recover again to finish.", d.step.title, r->exec.last_error);
		hooks_log(hooks, "%s", r->outcome);
		session_release_target(r->session);
		return ENGINE_STEP_FINISHED;
	}
	return ENGINE_STEP_STOPPED;
}

bool engine_run_finished(const struct engine_run *r)
{
	return r->finished;
}

static void header_text(const struct engine_run *r, char *out, size_t cap)
{
	const struct swd_obs *swd = &r->obs.swd;
	if (!r->have_obs)
		snprintf(out, cap, "not probed yet");
	else if (!swd->probe_found)
		snprintf(out, cap, "no ST-Link");
	else if (!swd->target_found)
		snprintf(out, cap, "%s %s -> no target", swd->probe_name, swd->probe_version);
	else
		snprintf(out, cap, "%s %s -> %s %u KB", swd->probe_name, swd->probe_version, swd->target_name,
			 swd->flash_kb);
}

/* "0,3-7" */
static void sector_list(uint16_t mask, char *out, size_t cap)
{
	size_t used = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < 12 && used + 8 < cap; i++) {
		if (!(mask & (1u << i)) || (i > 0 && (mask & (1u << (i - 1)))))
			continue;
		unsigned last = i;
		while (last + 1 < 12 && (mask & (1u << (last + 1))))
			last++;
		used += (size_t)snprintf(out + used, cap - used, used ? ",%u" : "%u", i);
		if (last > i)
			used += (size_t)snprintf(out + used, cap - used, "-%u", last);
	}
}

/* The sectors a step touches: its own list, the whole chip for a mass
 * erase, else the ones its address range covers. */
static uint16_t sectors_of(const struct plan_step *step)
{
	static const uint32_t base[13] = {0x08000000, 0x08004000, 0x08008000, 0x0800C000, 0x08010000,
					  0x08020000, 0x08040000, 0x08060000, 0x08080000, 0x080A0000,
					  0x080C0000, 0x080E0000, 0x08100000};
	if (step->sectors)
		return step->sectors;
	if (step->kind == STEP_MASS_ERASE || step->kind == STEP_RDP_REGRESS)
		return 0x0FFF;
	if (!step->address || !step->bytes)
		return 0;
	uint16_t mask = 0;
	uint32_t end = step->address + step->bytes;
	for (unsigned i = 0; i < 12; i++)
		if (step->address < base[i + 1] && end > base[i])
			mask |= (uint16_t)(1u << i);
	return mask;
}

static void row_detail(const struct plan_step *step, const char *sectors, char *out, size_t cap)
{
	if ((step->kind == STEP_SECTOR_ERASE || step->kind == STEP_WRP_CLEAR) && sectors[0])
		snprintf(out, cap, "sectors %s", sectors);
	else if (step->bytes >= 1024 * 1024)
		snprintf(out, cap, "%.0f MiB", step->bytes / 1048576.0);
	else if (step->bytes >= 10 * 1024)
		snprintf(out, cap, "%.0f KiB", step->bytes / 1024.0);
	else if (step->bytes)
		snprintf(out, cap, "%u bytes", step->bytes);
	else
		out[0] = '\0';
}

static void plan_rows(const struct plan *plan, struct engine_view *view)
{
	static const enum plan_row_state row_of[] = {
		[PSTATE_PENDING] = ROW_PENDING, [PSTATE_CURRENT] = ROW_CURRENT, [PSTATE_DONE] = ROW_DONE,
		[PSTATE_FAILED] = ROW_FAILED, [PSTATE_SKIPPED] = ROW_SKIPPED,
	};
	view->n_plan = 0;
	for (unsigned i = 0; i < plan->n && view->n_plan < ENGINE_MAX_PLAN; i++) {
		const struct plan_entry *e = &plan->steps[i];
		struct engine_plan_row *row = &view->plan[view->n_plan++];
		row->state = row_of[e->state];
		snprintf(row->title, sizeof row->title, "%s", e->step.title);
		row->bytes = e->step.bytes;
		row->address = e->step.address;
		char sectors[sizeof row->sectors] = "";
		sector_list(sectors_of(&e->step), sectors, sizeof sectors);
		memcpy(row->sectors, sectors, sizeof sectors);
		row_detail(&e->step, sectors, row->detail, sizeof row->detail);
		row->modeled_s = plan_step_modeled_s(&e->step);
	}
}

void engine_run_fill_view(const struct engine_run *r, struct engine_view *view)
{
	header_text(r, view->header, sizeof view->header);
	view->have_observations = r->have_obs;
	if (r->have_obs) {
		view->obs = r->obs;
		view->verdict = r->verdict;
		plan_rows(&r->plan, view);
	}
	snprintf(view->reason, sizeof view->reason, "%s", r->reason);
	snprintf(view->backup_path, sizeof view->backup_path, "%s", r->exec.history.backup_path);
	snprintf(view->journal_path, sizeof view->journal_path, "%s",
		 r->exec.journal_open ? r->exec.journal.path : "");
	view->exit_status = r->exit_status;
	snprintf(view->outcome, sizeof view->outcome, "%s", r->outcome);
}
