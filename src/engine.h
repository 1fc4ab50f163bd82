/* The engine: one recovery session that the dashboard and the `recover`
 * command both drive. It owns the session (live hardware or the simulated
 * bench), the observations, the plan and the journal, and runs every probe
 * and every step on its own worker thread, so a front end never blocks:
 *
 *   front end --requests--> engine worker --> probes / planner / executor
 *   front end <--view (copied under a lock) + a wakeup fd--
 *
 * A front end sleeps in poll() on its input and engine_wakeup_fd(), so an
 * idle dashboard uses no CPU, and a key is answered while an erase runs.
 * Data flows one way: probes -> observations -> planner -> steps -> drivers;
 * the front end only watches and answers questions. */
#ifndef VR_ENGINE_H
#define VR_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "errors.h"
#include "observe.h"
#include "hooks.h"

#define ENGINE_MAX_PLAN 24
#define ENGINE_LOG_LINES 512
#define ENGINE_LOG_LINE_MAX 200

enum engine_phase {
	ENGINE_IDLE = 0,      /* waiting for a request */
	ENGINE_PROBING,       /* USB, serial and SWD probes running */
	ENGINE_RUNNING,       /* a step runs */
	ENGINE_CONFIRM,       /* a destructive step waits for yes/no */
	ENGINE_PERSON,        /* the person must act (manual NRST, power cycle) */
	ENGINE_FINISHED,      /* a terminal outcome: see view.exit_status */
};

enum plan_row_state { ROW_PENDING = 0, ROW_CURRENT, ROW_DONE, ROW_FAILED, ROW_SKIPPED };

struct engine_plan_row {
	enum plan_row_state state;
	char title[64];              /* "Mass erase" */
	char detail[120];            /* short, for a narrow pane: "sectors 0,3-7", "512 KiB" */
	uint32_t bytes, address;     /* what the step moves, and where (0 when none) */
	char sectors[40];            /* "0,3-7" for erases, "" otherwise */
	double modeled_s;            /* typical duration on a real probe and chip, 0 unknown */
};

/* A copy of everything a front end shows. */
struct engine_view {
	enum engine_phase phase;
	bool simulated;
	char sim_name[48];
	char header[120];            /* "ST-LINK/V2 V2J37S7 -> STM32F40x 1024 KB" */
	struct observations obs;
	struct verdict verdict;
	bool have_observations;
	struct engine_plan_row plan[ENGINE_MAX_PLAN];
	unsigned n_plan;
	char reason[300];            /* why the current step */
	struct engine_progress progress;
	struct engine_confirm confirm;      /* valid in ENGINE_CONFIRM */
	char person_prompt[300];            /* valid in ENGINE_PERSON */
	char backup_path[512];              /* "" until a backup exists */
	char journal_path[512];
	bool quit_after_step;
	int exit_status;                    /* valid in ENGINE_FINISHED */
	char outcome[300];                  /* "recovered: VESC 6.05 answers on /dev/ttyACM0" */
	unsigned log_count;                 /* total lines logged so far */
};

enum engine_request {
	ENGINE_REQ_PROBE,            /* look again */
	ENGINE_REQ_STEP,             /* run the current step */
	ENGINE_REQ_RUN_ON,           /* run steps until a confirmation, a person, or the end */
	ENGINE_REQ_CANCEL,           /* stop at the next safe point */
	ENGINE_REQ_QUIT_AFTER_STEP,  /* finish the running step, then stop the worker */
	ENGINE_REQ_SHUTDOWN,         /* stop now if idle (refused while a step runs) */
};

struct engine;

/* Opens the session (live or --sim) and starts the worker. Nothing is
 * probed until ENGINE_REQ_PROBE. */
vr_err engine_new(const struct cli_options *opts, struct engine **out, struct vr_error *err);
/* Joins the worker (after finishing a running step), closes the session,
 * writes the journal. */
void engine_free(struct engine *e);

/* Returns false when the request is refused right now (and why, in why). */
bool engine_request(struct engine *e, enum engine_request req, char *why, size_t why_len);
/* Answers the pending confirmation or question (ENGINE_CONFIRM). */
void engine_answer(struct engine *e, bool yes);
/* A question of fact nobody here can answer (no terminal). */
void engine_answer_unknown(struct engine *e);
/* The person did what person_prompt asked (ENGINE_PERSON), or gave up. */
void engine_person_done(struct engine *e, bool done);

/* Copies the current state. Cheap enough for every redraw. */
void engine_view(struct engine *e, struct engine_view *out);
/* Lines first..first+max-1 of the transcript (oldest kept first); returns
 * how many were copied. */
unsigned engine_log(struct engine *e, unsigned first, char lines[][ENGINE_LOG_LINE_MAX], unsigned max);

/* Readable whenever the view changed; call engine_wakeup_drain after. */
int engine_wakeup_fd(const struct engine *e);
void engine_wakeup_drain(struct engine *e);

/* For signal handlers: ask for a stop at the next safe point. */
void engine_cancel_from_signal(struct engine *e);

#endif
