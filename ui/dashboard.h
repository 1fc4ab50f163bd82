/* The dashboard: `vesc-rescue` with no subcommand, on a terminal.
 *
 * Draws the bench (Link, Target, Plan, Log) with ncursesw and drives the
 * engine (src/engine.h) from keys; the engine does the work on its own
 * thread, the dashboard sleeps in poll() on stdin, the engine's wakeup fd
 * and a signal pipe. Without a usable terminal (stdin or stdout not a tty,
 * TERM unknown or without cursor addressing) it prints the `probe` report
 * instead and says how to get the dashboard. The terminal is restored on
 * every way out; SIGINT/SIGTERM/SIGHUP stop the engine at a safe point. */
#ifndef VR_UI_DASHBOARD_H
#define VR_UI_DASHBOARD_H

#include <stdbool.h>

#include "cli.h"

/* Returns the process exit status (CONTRACTS.md §3). */
int ui_dashboard_run(const struct cli_options *opts);

#endif
