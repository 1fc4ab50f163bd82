/* The subcommands. Each returns the process exit status (CONTRACTS.md §3). */
#ifndef VR_COMMANDS_H
#define VR_COMMANDS_H

#include "cli.h"
#include "errors.h"

int commands_run(const struct cli_options *opts);
int cmd_udev_rules(const struct cli_options *opts);
int cmd_probe(const struct cli_options *opts);
int cmd_recover(const struct cli_options *opts);         /* cmd_recover.c */
int cmd_survey(const struct cli_options *opts);          /* cmd_flash.c */
int cmd_backup(const struct cli_options *opts);
int cmd_erase(const struct cli_options *opts);
int cmd_write(const struct cli_options *opts);
int cmd_verify(const struct cli_options *opts);
int cmd_restore(const struct cli_options *opts);
int cmd_dashboard(const struct cli_options *opts);       /* ui/ */

/* Prints err (and a JSON error object with --json); returns its exit status. */
int cmd_fail(const struct cli_options *opts, const struct vr_error *err);

#endif
