/* The subcommands. Each returns the process exit status (CONTRACTS.md §3). */
#ifndef VR_COMMANDS_H
#define VR_COMMANDS_H

#include "cli.h"

int commands_run(const struct cli_options *opts);
int cmd_udev_rules(const struct cli_options *opts);

#endif
