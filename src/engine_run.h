/* The engine's work, without threads: probe, plan, execute one step, and
 * describe the result for the view. engine.c runs these on its worker
 * thread; nothing here knows about threads or front ends. */
#ifndef VR_ENGINE_RUN_H
#define VR_ENGINE_RUN_H

#include <stdbool.h>

#include "engine.h"
#include "errors.h"
#include "hooks.h"

struct session;
struct engine_run;

enum engine_run_result {
	ENGINE_STEP_CONTINUE,   /* a step finished; there is a next one */
	ENGINE_STEP_STOPPED,    /* refused, cancelled or failed: the person decides */
	ENGINE_STEP_FINISHED,   /* a terminal outcome */
};

vr_err engine_run_new(struct session *s, struct engine_run **out, struct vr_error *err);
void engine_run_free(struct engine_run *r);

void engine_run_probe(struct engine_run *r, const struct run_hooks *hooks);
enum engine_run_result engine_run_step(struct engine_run *r, const struct run_hooks *hooks);
bool engine_run_finished(const struct engine_run *r);
/* Copies observations, verdict, plan rows, reason, outcome and paths. */
void engine_run_fill_view(const struct engine_run *r, struct engine_view *view);

#endif
