/* The rescue planner: a pure state machine (issue 5, CONTRACTS.md §2-§5).
 *
 * Input: what the probes saw (observations), what the person asked for
 * (plan_options) and what has happened so far (plan_history: steps done with
 * their results, refusals, answers; rebuilt from the journal on a resume).
 * Output: ONE next step with a reason the person can read and, when it
 * destroys anything, the confirmation text; or a terminal outcome with the
 * exit status. plan_build() gives the whole predicted plan for --dry-run and
 * the dashboard's plan pane.
 *
 * The caller's loop: d = plan_next(); if terminal, report and exit; else ask
 * for confirmation when d.step.needs_confirm && !d.step.preconfirmed (or
 * refuse without a terminal and record STEP_REFUSED), run the step, append
 * its record to the history, refresh the observations a step changes
 * (attach rungs, survey, USB probe), repeat. No I/O, no clock in here. */
#ifndef VR_PLANNER_H
#define VR_PLANNER_H

#include <stdbool.h>
#include <stdint.h>

#include "observe.h"

#define PLAN_MAX_STEPS 20
#define PLAN_MAX_RECORDS 64
#define PLAN_TEXT 480
#define PLAN_CONFIRM_TEXT 640

#define F4_FLASH_BASE 0x08000000u
#define F4_CONFIG_START 0x08004000u      /* sectors 1-2: EEPROM emulation */
#define F4_CONFIG_END 0x0800C000u
#define F4_BOOTLOADER_ADDR 0x080E0000u   /* sector 11 */
#define F4_BOOTLOADER_MAX (128u * 1024u)
#define USB_BOOTLOADER_OFFSET 0x60000u   /* COMM_WRITE_NEW_APP_DATA offset of sector 11 */
#define PLAN_WAIT_VESC_MS 20000u         /* 1.5 s USB delay + first-boot self reset, with margin */

enum plan_step_kind {
	STEP_NONE = 0,
	STEP_SWD_ATTACH,            /* attach with step.rung */
	STEP_SURVEY,                /* read-only flash survey */
	STEP_BACKUP,                /* every readable byte of step.sectors + manifest */
	STEP_RDP_REGRESS,           /* RDP 1 -> 0: the chip mass-erases itself */
	STEP_POWER_CYCLE,           /* person: remove and restore power */
	STEP_WRP_CLEAR,             /* set nWRP bits of step.sectors back to 1 */
	STEP_MASS_ERASE,
	STEP_SECTOR_ERASE,          /* step.sectors */
	STEP_WRITE_BOOTLOADER,      /* erase disabled, at 0x080E0000 */
	STEP_WRITE_FIRMWARE,        /* erase disabled, at 0x08000000 */
	STEP_VERIFY,                /* what this plan wrote */
	STEP_RESTORE_CONFIG,        /* backed-up sectors 1-2 into the blank window */
	STEP_RESET,                 /* reset and run */
	STEP_WAIT_VESC,             /* USB re-probe until the expected version answers */
	STEP_ASK_BOOTLOADER,        /* question: did the old firmware come back after an update? */
	STEP_USB_ERASE_BOOTLOADER,  /* COMM_ERASE_BOOTLOADER (FW >= 3.59) */
	STEP_USB_WRITE_BOOTLOADER,  /* COMM_WRITE_NEW_APP_DATA at offset 0x60000 */
	STEP_KIND_COUNT_
};

enum plan_path {
	PATH_NONE = 0,
	PATH_DIAGNOSE,        /* attach ladder, survey: nothing chosen yet */
	PATH_HEALTHY,
	PATH_USB_BOOTLOADER,  /* firmware answers, person confirmed the bootloader missing */
	PATH_CANONICAL,       /* backup, mass erase, bootloader, firmware, verify */
	PATH_KEEP_CONFIG,     /* sector erases, never sectors 1-2 */
	PATH_FIRMWARE_ONLY,   /* bootloader present, app region blank */
	PATH_BOOTLOADER_ONLY, /* app valid, bootloader missing */
	PATH_RESTART,         /* flash intact, USB silent: reset and look again */
	PATH_UNPROTECT,       /* RDP1 regression, power cycle, survey again */
	PATH_COUNT_
};

enum image_role { ROLE_NONE = 0, ROLE_BOOTLOADER, ROLE_FIRMWARE, ROLE_BACKUP };

enum step_result {
	STEP_RESULT_NONE = 0,
	STEP_OK,
	STEP_FAILED,
	STEP_INTERRUPTED,     /* a signal or a lost probe; bytes_done tells how far */
	STEP_STARTED,         /* begun, no result recorded: the process died */
	STEP_REFUSED,         /* confirmation refused, or a person action not done */
	STEP_RESULT_COUNT_
};

enum plan_outcome {
	PLAN_CONTINUE = 0,    /* decision.step is the next thing to do */
	PLAN_HEALTHY,         /* nothing to do (exit 0) */
	PLAN_RECOVERED,       /* the VESC answers again (exit 0) */
	PLAN_NEEDS_PERSON,    /* wiring, power, images, confirmation (exit 2/3/4/5/6/7) */
	PLAN_UNRECOVERABLE,   /* RDP2, dead MCU (exit 8) */
	PLAN_FAILED,          /* an operation failed (exit 9) */
	PLAN_OUTCOME_COUNT_
};

enum plan_state { PSTATE_PENDING = 0, PSTATE_CURRENT, PSTATE_DONE, PSTATE_FAILED, PSTATE_SKIPPED };

/* The person's answer to "did the old firmware come back after an update?" */
enum bl_answer {
	BL_ANSWER_NOT_ASKED = 0,
	BL_ANSWER_MISSING,    /* yes: the bootloader is missing */
	BL_ANSWER_WORKS,      /* no: updates worked */
	BL_ANSWER_UNKNOWN,    /* does not know, or could not be asked (no terminal) */
};

struct plan_image {
	bool present;
	uint32_t size;
	char name[96];               /* file name, for the texts */
	int major, minor;            /* firmware version it carries, -1 unknown */
	char hw_name[32];            /* HW group it is for, "" unknown */
};

struct plan_options {
	bool keep_config, restore_config, dry_run, allow_unprotect, force, yes;
	struct plan_image bootloader, firmware;
	bool images_dir_given;
	char images_note[200];       /* why --images gave no image ("no firmware for HW 60 in DIR") */
	char hw_name[32];            /* --hw */
	char backup_path[256];       /* where the backup goes (for confirmation texts) */
};

struct plan_record {
	enum plan_step_kind kind;
	enum plan_path path;
	enum step_result result;
	enum attach_result rung;     /* STEP_SWD_ATTACH */
	enum image_role role;
	uint16_t sectors;            /* bit i = sector i */
	uint32_t bytes_done;         /* writes: image offset reached (block granular) */
};

struct plan_history {
	struct plan_record rec[PLAN_MAX_RECORDS];
	unsigned n;
	enum bl_answer bootloader_answer;
	bool backup_verified;        /* a verified backup of this chip exists (journal) */
	char backup_path[256];
	unsigned n_from_journal;     /* rec[0..n_from_journal) come from an earlier run */
};

struct plan_step {
	enum plan_step_kind kind;
	enum plan_path path;
	enum attach_result rung;
	enum image_role role;
	uint16_t sectors;
	uint32_t address;
	uint32_t bytes;              /* bytes moved: for modeled times and progress */
	uint32_t resume_offset;      /* writes: start here (earlier blocks are done) */
	bool skip_config_window;     /* never program 0x08004000-0x0800BFFF */
	bool destructive;
	bool needs_confirm;
	bool needs_unprotect;        /* in batch mode --allow-unprotect is needed too */
	bool preconfirmed;           /* the flags given already answer it */
	bool person_action;          /* the person must do something with their hands */
	int expect_major, expect_minor;  /* STEP_WAIT_VESC: -1 any */
	unsigned wait_ms;
	char title[80];
	char reason[PLAN_TEXT];
	char confirm[PLAN_CONFIRM_TEXT];
};

struct plan_decision {
	enum plan_outcome outcome;
	struct plan_step step;       /* when outcome == PLAN_CONTINUE */
	int exit_status;             /* when terminal */
	char message[PLAN_TEXT];     /* terminal: what happened and what to do */
	char evidence[PLAN_TEXT];    /* unrecoverable / failed: what was seen */
	char note[PLAN_TEXT];        /* side remarks (staging image, stale journal...) */
};

struct plan_entry {
	struct plan_step step;
	enum plan_state state;
};

struct plan {
	enum plan_path path;
	struct plan_entry steps[PLAN_MAX_STEPS];
	unsigned n;
	int current;                 /* index of the next step, -1 when terminal */
	struct plan_decision decision;  /* what plan_next would return */
	uint64_t total_bytes;        /* bytes of the steps not yet done */
};

/* The next thing to do. Never fails: bad or contradictory input gives a
 * terminal outcome that says what is wrong. */
void plan_next(const struct observations *obs, const struct plan_options *opts,
	       const struct plan_history *hist, struct plan_decision *out);

/* The whole predicted plan: done steps, the current one, the pending ones
 * (assuming each succeeds), and the decision plan_next would return. */
void plan_build(const struct observations *obs, const struct plan_options *opts,
		const struct plan_history *hist, struct plan *out);

/* Appends a record; the oldest records go first when full (a resume only
 * needs the latest ones). */
void plan_history_add(struct plan_history *hist, const struct plan_record *rec);

/* The record for a decision's step with a given result. */
void plan_record_from_step(const struct plan_step *step, enum step_result result,
			   uint32_t bytes_done, struct plan_record *rec);

const char *plan_step_kind_name(enum plan_step_kind kind);   /* "mass-erase" */
enum plan_step_kind plan_step_kind_from_name(const char *name);
const char *plan_path_name(enum plan_path path);             /* "canonical" */
enum plan_path plan_path_from_name(const char *name);
const char *plan_outcome_name(enum plan_outcome outcome);
const char *plan_state_name(enum plan_state state);          /* "done", "current" */
const char *step_result_name(enum step_result result);       /* "ok", "interrupted" */
enum step_result step_result_from_name(const char *name);
const char *image_role_name(enum image_role role);
enum image_role image_role_from_name(const char *name);

#endif
