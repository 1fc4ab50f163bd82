#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/scenario.h"
#include "cmd_images.h"
#include "errors.h"
#include "hooks.h"
#include "report.h"
#include "session.h"
#include "transcript.h"
#include "verdict.h"

/* One rule per ST-Link debug PID (reference §1.1), the VESC CDC (kept away
 * from ModemManager), and the STM32 ROM DFU. uaccess alone covers only the
 * person at the seat, not an SSH session: hence the plugdev group too. */
static const struct {
	const char *pid;
	const char *what;
} udev_stlinks[] = {
	{"3744", "ST-LINK/V1"}, {"3748", "ST-LINK/V2 (and most clones)"},
	{"374b", "ST-LINK/V2-1"}, {"374a", "ST-LINK/V2-1 (audio)"},
	{"3752", "ST-LINK/V2-1 without MSD"}, {"374d", "STLINK-V3 bootloader"},
	{"374e", "STLINK-V3E/V3SET"}, {"374f", "STLINK-V3S"}, {"3753", "STLINK-V3 2VCP"},
	{"3754", "STLINK-V3MINIE"}, {"3755", "STLINK-V3PWR bootloader"}, {"3757", "STLINK-V3PWR"},
};

int cmd_udev_rules(const struct cli_options *opts)
{
	(void)opts;
	puts("# udev rules for vesc-rescue: install as /etc/udev/rules.d/70-vesc-rescue.rules,\n"
	     "# then: sudo udevadm control --reload-rules && sudo udevadm trigger\n"
	     "# and add yourself to plugdev and dialout: sudo usermod -aG plugdev,dialout $USER\n"
	     "# (log out and in again).");
	for (size_t i = 0; i < sizeof udev_stlinks / sizeof udev_stlinks[0]; i++)
		printf("# %s\nSUBSYSTEM==\"usb\", ATTR{idVendor}==\"0483\", ATTR{idProduct}==\"%s\", "
		       "MODE=\"0660\", GROUP=\"plugdev\", TAG+=\"uaccess\"\n",
		       udev_stlinks[i].what, udev_stlinks[i].pid);
	puts("# VESC USB CDC (ChibiOS virtual COM port): keep ModemManager away from it\n"
	     "SUBSYSTEM==\"usb\", ATTR{idVendor}==\"0483\", ATTR{idProduct}==\"5740\", "
	     "MODE=\"0660\", GROUP=\"plugdev\", TAG+=\"uaccess\", ENV{ID_MM_DEVICE_IGNORE}=\"1\"\n"
	     "SUBSYSTEM==\"tty\", ATTRS{idVendor}==\"0483\", ATTRS{idProduct}==\"5740\", "
	     "MODE=\"0660\", GROUP=\"dialout\", TAG+=\"uaccess\", ENV{ID_MM_DEVICE_IGNORE}=\"1\"\n"
	     "# STM32 ROM DFU (BOOT0 high)\n"
	     "SUBSYSTEM==\"usb\", ATTR{idVendor}==\"0483\", ATTR{idProduct}==\"df11\", "
	     "MODE=\"0660\", GROUP=\"plugdev\", TAG+=\"uaccess\"");
	return VR_EXIT_OK;
}

static int sim_list(void)
{
	printf("Scenarios of the simulated bench (vesc-rescue --sim NAME[,k=v...]):\n");
	for (size_t i = 0; i < bench_scenario_count(); i++) {
		const struct bench_scenario *sc = bench_scenario_at(i);
		printf("  %-16s %s\n", sc->name, sc->summary);
	}
	printf("Parameters: fw=6.05 hw=60 time-scale=0.1 usb-timeout-at=N usb-timeout-every=K usb-gone-at=N\n"
	       "            state=FILE probe=absent link=disconnect\n");
	return VR_EXIT_OK;
}

int cmd_fail(const struct cli_options *opts, const struct vr_error *err)
{
	fprintf(stderr, "vesc-rescue: %s\n", err->msg);
	if (opts && opts->json) {
		struct json_writer w;
		json_init(&w, stdout, true);
		json_object_begin(&w, NULL);
		json_int(&w, "schema", 1);
		json_string(&w, "error", err->msg);
		json_string(&w, "error_code", vr_err_name(err->code));
		json_int(&w, "exit_status", vr_err_exit_status(err->code));
		json_object_end(&w);
		json_finish(&w);
	}
	return vr_err_exit_status(err->code);
}

static void log_to_transcript(void *ctx, const char *line)
{
	transcript_line(ctx, line);
}

int cmd_probe(const struct cli_options *opts)
{
	struct session *s;
	struct vr_error err;
	vr_error_clear(&err);
	struct transcript log;
	if (transcript_open(&log, opts->log_path, &err))
		return cmd_fail(opts, &err);
	if (session_open(opts, &s, &err)) {
		transcript_close(&log);
		return cmd_fail(opts, &err);
	}
	struct observations *obs = calloc(1, sizeof *obs);
	if (!obs) {
		session_close(s);
		return VR_EXIT_INTERNAL;
	}
	/* The report says everything the probes saw: the running commentary
	 * goes only to --log. */
	struct run_hooks hooks = {.ctx = &log, .log = log_to_transcript};
	session_probe_all(s, &hooks, obs, &err);
	struct verdict v;
	verdict_compute(obs, &v);
	hooks_log(&hooks, "verdict: %s", v.summary);
	hooks_log(&hooks, "next: %s", v.next);
	transcript_close(&log);
	if (opts->json)
		report_probe_json(stdout, obs, &v);
	else
		report_probe_text(stdout, obs, &v);
	session_close(s);
	free(obs);
	return v.exit_status;
}

int commands_run(const struct cli_options *opts)
{
	if (opts->sim && strcmp(opts->sim, "list") == 0)
		return sim_list();
	switch (opts->command) {
	case CMD_PROBE: return cmd_probe(opts);
	case CMD_RECOVER: return cmd_recover(opts);
	case CMD_IMAGES: return cmd_images(opts);
	case CMD_SURVEY: return cmd_survey(opts);
	case CMD_BACKUP: return cmd_backup(opts);
	case CMD_ERASE: return cmd_erase(opts);
	case CMD_WRITE: return cmd_write(opts);
	case CMD_VERIFY: return cmd_verify(opts);
	case CMD_RESTORE: return cmd_restore(opts);
	case CMD_DASHBOARD: return cmd_dashboard(opts);
	}
	return VR_EXIT_INTERNAL;
}
