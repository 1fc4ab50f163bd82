#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine_run.h"
#include "session.h"
#include "transcript.h"

/* Requests queue up in a small ring: a person cannot press keys faster
 * than the worker takes them, and anything beyond is dropped. */
#define REQUEST_RING 8

enum answer_state { ANSWER_NONE = 0, ANSWER_YES, ANSWER_NO, ANSWER_UNKNOWN };

struct engine {
	pthread_t worker;
	bool worker_started;
	pthread_mutex_t lock;
	pthread_cond_t wake;            /* requests and answers arrive */
	int wakeup_pipe[2];             /* worker -> front end: the view changed */

	struct session *session;
	struct engine_run *run;         /* planner + executor state (engine_run.c) */

	/* Everything below is guarded by lock. */
	struct engine_view view;
	enum engine_request requests[REQUEST_RING];
	unsigned req_head, req_count;
	enum answer_state answer;
	bool shutting_down;
	volatile sig_atomic_t cancel;
	char log_lines[ENGINE_LOG_LINES][ENGINE_LOG_LINE_MAX];
	unsigned log_total;
	struct transcript transcript;   /* --log FILE */
};

/* ---- view and notification -------------------------------------------- */

static void notify_locked(struct engine *e)
{
	char byte = 1;
	/* A full pipe already says "changed"; losing this byte is fine. */
	ssize_t ignored = write(e->wakeup_pipe[1], &byte, 1);
	(void)ignored;
}

static void log_line_locked(struct engine *e, const char *line)
{
	char *slot = e->log_lines[e->log_total % ENGINE_LOG_LINES];
	snprintf(slot, ENGINE_LOG_LINE_MAX, "%s", line);
	e->log_total++;
	e->view.log_count = e->log_total;
	transcript_line(&e->transcript, line);
}

static void hook_log(void *ctx, const char *line)
{
	struct engine *e = ctx;
	pthread_mutex_lock(&e->lock);
	log_line_locked(e, line);
	notify_locked(e);
	pthread_mutex_unlock(&e->lock);
}

static void hook_progress(void *ctx, const struct engine_progress *p)
{
	struct engine *e = ctx;
	pthread_mutex_lock(&e->lock);
	e->view.progress = *p;
	notify_locked(e);
	pthread_mutex_unlock(&e->lock);
}

/* Blocks the worker until the front end answers; the phase tells the front
 * end what is being asked. */
static enum answer_state wait_for_answer(struct engine *e, enum engine_phase asking, unsigned timeout_ms)
{
	pthread_mutex_lock(&e->lock);
	enum engine_phase before = e->view.phase;
	e->view.phase = asking;
	e->answer = ANSWER_NONE;
	notify_locked(e);
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (e->answer == ANSWER_NONE && !e->shutting_down) {
		if (timeout_ms == 0)
			pthread_cond_wait(&e->wake, &e->lock);
		else if (pthread_cond_timedwait(&e->wake, &e->lock, &deadline) == ETIMEDOUT)
			break;
	}
	enum answer_state got = e->answer == ANSWER_NONE ? ANSWER_NO : e->answer;
	e->answer = ANSWER_NONE;
	e->view.phase = before;
	notify_locked(e);
	pthread_mutex_unlock(&e->lock);
	return got;
}

static bool hook_confirm(void *ctx, const struct engine_confirm *question)
{
	struct engine *e = ctx;
	pthread_mutex_lock(&e->lock);
	e->view.confirm = *question;
	pthread_mutex_unlock(&e->lock);
	return wait_for_answer(e, ENGINE_CONFIRM, 0) == ANSWER_YES;
}

static enum hook_answer hook_ask(void *ctx, const struct engine_confirm *question)
{
	struct engine *e = ctx;
	pthread_mutex_lock(&e->lock);
	e->view.confirm = *question;
	pthread_mutex_unlock(&e->lock);
	switch (wait_for_answer(e, ENGINE_CONFIRM, 0)) {
	case ANSWER_YES: return HOOK_YES;
	case ANSWER_UNKNOWN: return HOOK_UNKNOWN;
	default: return HOOK_NO;
	}
}

static bool hook_ask_person(void *ctx, const char *instruction, unsigned timeout_ms)
{
	struct engine *e = ctx;
	pthread_mutex_lock(&e->lock);
	snprintf(e->view.person_prompt, sizeof e->view.person_prompt, "%s", instruction);
	pthread_mutex_unlock(&e->lock);
	return wait_for_answer(e, ENGINE_PERSON, timeout_ms) == ANSWER_YES;
}

static void make_hooks(struct engine *e, struct run_hooks *h)
{
	memset(h, 0, sizeof *h);
	h->ctx = e;
	h->log = hook_log;
	h->progress = hook_progress;
	h->confirm = hook_confirm;
	h->ask = hook_ask;
	h->ask_person = hook_ask_person;
	h->cancel = &e->cancel;
}

/* ---- the worker --------------------------------------------------------- */

static bool next_request(struct engine *e, enum engine_request *req)
{
	pthread_mutex_lock(&e->lock);
	while (e->req_count == 0 && !e->shutting_down)
		pthread_cond_wait(&e->wake, &e->lock);
	bool have = e->req_count > 0 && !e->shutting_down;
	if (have) {
		*req = e->requests[e->req_head];
		e->req_head = (e->req_head + 1) % REQUEST_RING;
		e->req_count--;
	}
	pthread_mutex_unlock(&e->lock);
	return have;
}

static void set_phase(struct engine *e, enum engine_phase phase)
{
	pthread_mutex_lock(&e->lock);
	e->view.phase = phase;
	if (phase != ENGINE_RUNNING)
		e->view.progress.active = false;
	notify_locked(e);
	pthread_mutex_unlock(&e->lock);
}

/* Publishes what the run computed (observations, verdict, plan, outcome). */
static void publish(struct engine *e)
{
	pthread_mutex_lock(&e->lock);
	engine_run_fill_view(e->run, &e->view);
	notify_locked(e);
	pthread_mutex_unlock(&e->lock);
}

static bool quit_requested(struct engine *e)
{
	pthread_mutex_lock(&e->lock);
	bool quit = e->view.quit_after_step || e->shutting_down;
	pthread_mutex_unlock(&e->lock);
	return quit;
}

static void handle_request(struct engine *e, enum engine_request req, const struct run_hooks *hooks)
{
	enum engine_run_result result;
	switch (req) {
	case ENGINE_REQ_PROBE:
		set_phase(e, ENGINE_PROBING);
		engine_run_probe(e->run, hooks);
		break;
	case ENGINE_REQ_STEP:
		set_phase(e, ENGINE_RUNNING);
		engine_run_step(e->run, hooks);
		break;
	case ENGINE_REQ_RUN_ON:
		set_phase(e, ENGINE_RUNNING);
		do {
			result = engine_run_step(e->run, hooks);
			publish(e);
		} while (result == ENGINE_STEP_CONTINUE && !quit_requested(e) && !e->cancel);
		break;
	default:
		break;
	}
	e->cancel = 0;
	publish(e);
	set_phase(e, engine_run_finished(e->run) ? ENGINE_FINISHED : ENGINE_IDLE);
}

static void *worker_main(void *arg)
{
	struct engine *e = arg;
	struct run_hooks hooks;
	make_hooks(e, &hooks);
	enum engine_request req;
	while (next_request(e, &req)) {
		handle_request(e, req, &hooks);
		if (quit_requested(e))
			break;
	}
	return NULL;
}

/* ---- public API ------------------------------------------------------- */

vr_err engine_new(const struct cli_options *opts, struct engine **out, struct vr_error *err)
{
	struct engine *e = calloc(1, sizeof *e);
	if (!e)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->wake, NULL);
	e->wakeup_pipe[0] = e->wakeup_pipe[1] = -1;
	vr_err rc = VR_OK;
	if (pipe2(e->wakeup_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		rc = vr_fail(err, VR_ERR_IO, "pipe: %s", strerror(errno));
	if (!rc)
		rc = transcript_open(&e->transcript, opts->log_path, err);
	if (!rc)
		rc = session_open(opts, &e->session, err);
	if (!rc)
		rc = engine_run_new(e->session, &e->run, err);
	if (!rc) {
		e->view.simulated = session_simulated(e->session);
		if (e->view.simulated)
			snprintf(e->view.sim_name, sizeof e->view.sim_name, "%s", session_sim_name(e->session));
		engine_run_fill_view(e->run, &e->view);
		if (pthread_create(&e->worker, NULL, worker_main, e) != 0)
			rc = vr_fail(err, VR_ERR_INTERNAL, "cannot start the worker thread");
		else
			e->worker_started = true;
	}
	if (rc) {
		engine_free(e);
		return rc;
	}
	*out = e;
	return VR_OK;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->shutting_down = true;
	e->answer = ANSWER_NO;  /* a pending question is answered "no" */
	pthread_cond_broadcast(&e->wake);
	pthread_mutex_unlock(&e->lock);
	if (e->worker_started)
		pthread_join(e->worker, NULL);
	engine_run_free(e->run);
	session_close(e->session);
	transcript_close(&e->transcript);
	for (int i = 0; i < 2; i++)
		if (e->wakeup_pipe[i] >= 0)
			close(e->wakeup_pipe[i]);
	pthread_cond_destroy(&e->wake);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

static bool refuse(char *why, size_t why_len, const char *text)
{
	if (why && why_len)
		snprintf(why, why_len, "%s", text);
	return false;
}

bool engine_request(struct engine *e, enum engine_request req, char *why, size_t why_len)
{
	pthread_mutex_lock(&e->lock);
	enum engine_phase phase = e->view.phase;
	bool busy = phase == ENGINE_PROBING || phase == ENGINE_RUNNING || phase == ENGINE_CONFIRM ||
		    phase == ENGINE_PERSON || e->req_count > 0;
	bool ok = true;
	switch (req) {
	case ENGINE_REQ_CANCEL:
		e->cancel = 1;
		e->answer = ANSWER_NO;
		pthread_cond_broadcast(&e->wake);
		break;
	case ENGINE_REQ_QUIT_AFTER_STEP:
		e->view.quit_after_step = true;
		notify_locked(e);
		break;
	case ENGINE_REQ_SHUTDOWN:
		if (phase == ENGINE_RUNNING || phase == ENGINE_CONFIRM || phase == ENGINE_PERSON)
			ok = refuse(why, why_len, "a step is running: it must finish first");
		break;
	default:
		if (busy)
			ok = refuse(why, why_len, "busy: wait for the current step to finish");
		else if (e->req_count == REQUEST_RING)
			ok = refuse(why, why_len, "too many requests");
		else {
			e->requests[(e->req_head + e->req_count) % REQUEST_RING] = req;
			e->req_count++;
			/* Accepted means busy from now on: a front end that looks
			 * right after must not see the old idle phase. */
			e->view.phase = req == ENGINE_REQ_PROBE ? ENGINE_PROBING : ENGINE_RUNNING;
			notify_locked(e);
			pthread_cond_broadcast(&e->wake);
		}
	}
	pthread_mutex_unlock(&e->lock);
	return ok;
}

static void answer(struct engine *e, enum answer_state a)
{
	pthread_mutex_lock(&e->lock);
	e->answer = a;
	pthread_cond_broadcast(&e->wake);
	pthread_mutex_unlock(&e->lock);
}

void engine_answer(struct engine *e, bool yes) { answer(e, yes ? ANSWER_YES : ANSWER_NO); }
void engine_answer_unknown(struct engine *e) { answer(e, ANSWER_UNKNOWN); }
void engine_person_done(struct engine *e, bool done) { answer(e, done ? ANSWER_YES : ANSWER_NO); }

void engine_view(struct engine *e, struct engine_view *out)
{
	pthread_mutex_lock(&e->lock);
	*out = e->view;
	pthread_mutex_unlock(&e->lock);
}

unsigned engine_log(struct engine *e, unsigned first, char lines[][ENGINE_LOG_LINE_MAX], unsigned max)
{
	pthread_mutex_lock(&e->lock);
	unsigned oldest = e->log_total > ENGINE_LOG_LINES ? e->log_total - ENGINE_LOG_LINES : 0;
	if (first < oldest)
		first = oldest;
	unsigned n = 0;
	for (unsigned i = first; i < e->log_total && n < max; i++, n++)
		memcpy(lines[n], e->log_lines[i % ENGINE_LOG_LINES], ENGINE_LOG_LINE_MAX);
	pthread_mutex_unlock(&e->lock);
	return n;
}

int engine_wakeup_fd(const struct engine *e)
{
	return e->wakeup_pipe[0];
}

void engine_wakeup_drain(struct engine *e)
{
	char buf[64];
	while (read(e->wakeup_pipe[0], buf, sizeof buf) > 0)
		;
}

void engine_cancel_from_signal(struct engine *e)
{
	/* Only async-signal-safe work here: a flag and a pipe write. */
	e->cancel = 1;
	char byte = 1;
	ssize_t ignored = write(e->wakeup_pipe[1], &byte, 1);
	(void)ignored;
}
