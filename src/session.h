/* A session: the hardware the tool talks to, live or simulated, behind one
 * face. It opens the bench for --sim, finds the VESC's ports and the
 * ST-Link, runs the probes into observations, and keeps the attached target
 * for the steps that follow. The probe, planner and executor never ask
 * whether the bench is simulated: only this file does. */
#ifndef VR_SESSION_H
#define VR_SESSION_H

#include <stdbool.h>

#include "cli.h"
#include "errors.h"
#include "hooks.h"
#include "observe.h"

struct session;
struct stm32f4;

/* For --sim, opens the bench (VR_ERR_USAGE for an unknown scenario). Live:
 * nothing is opened yet. */
vr_err session_open(const struct cli_options *opts, struct session **out, struct vr_error *err);
/* Leaves the target running, closes the probe, saves simulated state. */
void session_close(struct session *s);

bool session_simulated(const struct session *s);
const char *session_sim_name(const struct session *s);
const struct cli_options *session_options(const struct session *s);

/* USB enumeration and serial probes only (fast; nothing attaches SWD). */
vr_err session_probe_link(struct session *s, const struct run_hooks *hooks,
			  struct observations *obs, struct vr_error *err);
/* The SWD side: open the ST-Link, climb the attach ladder, survey the flash
 * (read-only). Keeps the target attached for later steps. */
vr_err session_probe_swd(struct session *s, const struct run_hooks *hooks,
			 struct observations *obs, struct vr_error *err);
/* Both, link first (the planner decides whether SWD is needed; `probe`
 * always looks at both). */
vr_err session_probe_all(struct session *s, const struct run_hooks *hooks,
			 struct observations *obs, struct vr_error *err);

/* The attached target after a successful ladder, NULL otherwise. */
struct stm32f4 *session_target(struct session *s);
/* Detach (the target keeps running) so the VESC can boot and enumerate. */
void session_release_target(struct session *s);
/* The person removed and restored power (on the bench: the simulated
 * chip is power-cycled too, as the person would have done). */
void session_power_cycled(struct session *s);
/* The path of the VESC's serial port that answered last, or NULL. */
const char *session_vesc_port(const struct session *s);

#endif
