/* What a running probe or step may do besides touching hardware: log,
 * report progress, ask the person to act, ask for a confirmation, and
 * notice a cancel request. The engine implements these for the dashboard
 * and for the line-mode `recover`; tests implement them to drive a run. */
#ifndef VR_HOOKS_H
#define VR_HOOKS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct engine_progress {
	bool active;
	char what[64];               /* "mass erase", "programming firmware" */
	uint64_t done, total;        /* bytes; 0/0 for timed steps */
	double elapsed_s;
	double typical_s, max_s;     /* for erases: datasheet typical and maximum */
	double rate_bps;             /* bytes per second, 0 unknown */
	double eta_s;                /* negative: unknown */
	bool cancellable;            /* false inside an erase */
};

struct engine_confirm {
	char title[64];              /* "Erase the whole chip?" */
	char body[900];              /* what will be erased, what is lost, where the backup is */
	bool needs_unprotect;        /* RDP regression / WRP clear */
	bool question;               /* a question of fact: --yes never answers it */
};

/* The answer to a question of fact (not a permission). */
enum hook_answer { HOOK_NO = 0, HOOK_YES, HOOK_UNKNOWN };

struct run_hooks {
	void *ctx;
	/* One line of the transcript, without a newline. */
	void (*log)(void *ctx, const char *line);
	void (*progress)(void *ctx, const struct engine_progress *p);
	/* Blocks until the person did what instruction says (true), or gave
	 * up or did not answer in time (false). NULL: nobody to ask. */
	bool (*ask_person)(void *ctx, const char *instruction, unsigned timeout_ms);
	/* Blocks until yes (true) or no (false). NULL: refuse. */
	bool (*confirm)(void *ctx, const struct engine_confirm *question);
	/* A question of fact; HOOK_UNKNOWN when nobody can answer it. NULL:
	 * nobody to ask. */
	enum hook_answer (*ask)(void *ctx, const struct engine_confirm *question);
	/* Set from a signal handler or the front end; honoured at safe points. */
	const volatile sig_atomic_t *cancel;
};

/* Helpers that tolerate NULL hooks and NULL members. */
void hooks_log(const struct run_hooks *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hooks_progress(const struct run_hooks *h, const struct engine_progress *p);
bool hooks_ask_person(const struct run_hooks *h, const char *instruction, unsigned timeout_ms);
bool hooks_confirm(const struct run_hooks *h, const struct engine_confirm *question);
enum hook_answer hooks_ask(const struct run_hooks *h, const struct engine_confirm *question);
bool hooks_cancelled(const struct run_hooks *h);

#endif
