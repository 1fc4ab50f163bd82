/* Without a subcommand: the dashboard on a terminal (ui/), the probe report
 * otherwise (ui_dashboard_run decides). */
#include "commands.h"
#include "ui/dashboard.h"

int cmd_dashboard(const struct cli_options *opts)
{
	return ui_dashboard_run(opts);
}
