/* The executor: carries out one planner step (src/planner.h) on the
 * session's hardware, with the journal written before and after anything
 * destructive, progress and cancel through the run hooks, and the result
 * as a plan_record for the history. It decides nothing: the planner does. */
#ifndef VR_EXECUTOR_H
#define VR_EXECUTOR_H

#include <stdbool.h>

#include "backup.h"
#include "errors.h"
#include "hooks.h"
#include "images/image.h"
#include "journal.h"
#include "observe.h"
#include "planner.h"

struct session;

struct executor {
	struct session *session;
	struct image bootloader, firmware;
	bool have_bootloader, have_firmware;
	char fw_group[32];              /* --images group of the firmware, "" unknown */
	char images_note[300];          /* why an image could not be chosen from --images */
	struct backup backup;
	struct journal journal;
	bool journal_open;
	char uid_hex[JOURNAL_UID_HEX];
	struct plan_history history;
	struct plan_options plan_opts;
	char last_error[VR_ERROR_MSG_MAX];
	vr_err last_rc;                 /* the failed step's error code */
	uint32_t write_reached;         /* image offset the current write has journaled */
	uint32_t hold_progress_at;      /* offsets from here are not journaled (0: none) */
};

/* Loads and checks --bootloader/--firmware (or picks them from --images by
 * HW name): a bad file is VR_ERR_INPUT naming the case, before anything
 * touches the hardware. */
vr_err executor_init(struct executor *x, struct session *s, struct vr_error *err);
void executor_free(struct executor *x);

/* After a survey: opens the chip's journal and reads what an earlier run
 * left (resume), and chooses images by the HW name the VESC reported. */
void executor_observed(struct executor *x, const struct observations *obs, const struct run_hooks *hooks);

/* Runs the step (asking for its confirmation first when needed), appends
 * the record to the history and the journal, and refreshes the
 * observations the step changed. Returns the step's result. */
enum step_result executor_run(struct executor *x, const struct plan_step *step, struct observations *obs,
			      const struct run_hooks *hooks);

/* The USB bootloader steps (src/executor_usb.c). */
vr_err executor_usb_step(struct executor *x, const struct plan_step *step, struct observations *obs,
			 const struct run_hooks *hooks, struct vr_error *err);

/* Records the end of a run in the journal. */
void executor_finish(struct executor *x, const struct plan_decision *d);

#endif
