/* How long a planned step should take on a real ST-Link/V2 and STM32F405,
 * from the datasheet timing model the bench uses
 * (shared/reference/bench-timing.md): what --dry-run and the plan pane
 * quote before anything runs. Typical figures; erases can take twice as
 * long. Steps a person performs count zero. */
#ifndef VR_PLAN_TIME_H
#define VR_PLAN_TIME_H

#include "planner.h"

double plan_step_modeled_s(const struct plan_step *step);

/* "8.0 s", "0.3 s", "" for zero. */
void plan_time_text(double seconds, char *out, size_t cap);

#endif
