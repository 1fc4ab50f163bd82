/* Without a subcommand: the dashboard on a terminal (ui/), the probe report
 * otherwise. */
#include <stdio.h>

#include "commands.h"

int cmd_dashboard(const struct cli_options *opts)
{
	return cmd_probe(opts);
}
