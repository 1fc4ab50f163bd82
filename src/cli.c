#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "errors.h"
#include "version.h"

static const char usage_text[] =
	"usage: vesc-rescue [options]                    dashboard (on a terminal)\n"
	"       vesc-rescue [options] probe              link + SWD diagnosis, read-only\n"
	"       vesc-rescue [options] survey             detailed read-only SWD flash survey\n"
	"       vesc-rescue [options] backup FILE        every readable byte + manifest FILE.json\n"
	"       vesc-rescue [options] recover [recover options]\n"
	"       vesc-rescue [options] erase --mass | --sectors LIST\n"
	"       vesc-rescue [options] write FILE --at ADDR     program only, erase disabled\n"
	"       vesc-rescue [options] verify FILE --at ADDR\n"
	"       vesc-rescue [options] restore BACKUP [--sectors LIST]\n"
	"       vesc-rescue images DIR [--hw NAME]       list and check firmware/bootloader images\n"
	"       vesc-rescue --udev-rules | --help | --version\n"
	"\n"
	"options:\n"
	"  --port PATH         probe this serial port too (repeatable; a pty works)\n"
	"  --uart PATH         a USB-UART adapter wired to the VESC's COMM header\n"
	"  --baud N|auto       UART rate (default auto: 115200 first, then a scan)\n"
	"  --timeout MS        per-port reply wait (default 250)\n"
	"  --probe SERIAL      which ST-Link, when several are attached\n"
	"  --sim NAME[,k=v]    use the simulated bench (--sim list shows scenarios)\n"
	"  --json              one JSON object on stdout (schema 1)\n"
	"  --log FILE          append a human transcript to FILE\n"
	"  --no-color          no colours (NO_COLOR is honoured too)\n"
	"  --yes               answer yes to ordinary destructive confirmations\n"
	"\n"
	"recover options:\n"
	"  --bootloader FILE   bootloader image (.bin or .hex) for sector 11\n"
	"  --firmware FILE     firmware image for 0x08000000\n"
	"  --images DIR        VESC Tool resource tree or firmware archive\n"
	"  --hw NAME           the board's HW name, when the VESC cannot say it\n"
	"  --keep-config       keep sectors 1-2 (motor and app configuration)\n"
	"  --restore-config    after a mass erase, write the saved sectors 1-2 back\n"
	"  --backup FILE       where the backup goes (default in the XDG state dir)\n"
	"  --dry-run           print the plan with sizes and modeled times, touch nothing\n"
	"  --allow-unprotect   allow RDP regression and WRP clearing (they erase)\n"
	"  --force             write over flash that is not blank\n"
	"\n"
	"other options:\n"
	"  --mass              erase: the whole flash\n"
	"  --sectors LIST      erase/restore: sectors, e.g. 0,3-7\n"
	"  --at ADDR           write/verify: load address, e.g. 0x080E0000\n"
	"  --udev-rules        print udev rules for ST-Link, VESC CDC and STM32 DFU\n"
	"  --help              this text\n"
	"  --version           version\n"
	"\n"
	"Exit status: 0 ok, 2 usage, 3 bad input file, 4 unreachable (needs a person),\n"
	"5 permission, 6 busy, 7 confirmation needed, 8 unrecoverable, 9 operation\n"
	"failed, 10 interrupted, 70 internal error. See vesc-rescue(1).\n";

enum long_only {
	OPT_PORT = 256, OPT_UART, OPT_BAUD, OPT_TIMEOUT, OPT_PROBE, OPT_SIM, OPT_JSON,
	OPT_LOG, OPT_NO_COLOR, OPT_YES, OPT_BOOTLOADER, OPT_FIRMWARE, OPT_IMAGES, OPT_HW,
	OPT_KEEP_CONFIG, OPT_RESTORE_CONFIG, OPT_BACKUP, OPT_DRY_RUN, OPT_ALLOW_UNPROTECT,
	OPT_FORCE, OPT_MASS, OPT_SECTORS, OPT_AT, OPT_UDEV, OPT_HELP, OPT_VERSION,
};

static const struct option long_options[] = {
	{"port", required_argument, NULL, OPT_PORT},
	{"uart", required_argument, NULL, OPT_UART},
	{"baud", required_argument, NULL, OPT_BAUD},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"probe", required_argument, NULL, OPT_PROBE},
	{"sim", required_argument, NULL, OPT_SIM},
	{"json", no_argument, NULL, OPT_JSON},
	{"log", required_argument, NULL, OPT_LOG},
	{"no-color", no_argument, NULL, OPT_NO_COLOR},
	{"yes", no_argument, NULL, OPT_YES},
	{"bootloader", required_argument, NULL, OPT_BOOTLOADER},
	{"firmware", required_argument, NULL, OPT_FIRMWARE},
	{"images", required_argument, NULL, OPT_IMAGES},
	{"hw", required_argument, NULL, OPT_HW},
	{"keep-config", no_argument, NULL, OPT_KEEP_CONFIG},
	{"restore-config", no_argument, NULL, OPT_RESTORE_CONFIG},
	{"backup", required_argument, NULL, OPT_BACKUP},
	{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	{"allow-unprotect", no_argument, NULL, OPT_ALLOW_UNPROTECT},
	{"force", no_argument, NULL, OPT_FORCE},
	{"mass", no_argument, NULL, OPT_MASS},
	{"sectors", required_argument, NULL, OPT_SECTORS},
	{"at", required_argument, NULL, OPT_AT},
	{"udev-rules", no_argument, NULL, OPT_UDEV},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

struct command_name {
	const char *name;
	enum cli_command command;
	int n_positional;  /* required positional arguments */
};

static const struct command_name command_names[] = {
	{"probe", CMD_PROBE, 0},    {"survey", CMD_SURVEY, 0},   {"backup", CMD_BACKUP, 1},
	{"recover", CMD_RECOVER, 0}, {"erase", CMD_ERASE, 0},    {"write", CMD_WRITE, 1},
	{"verify", CMD_VERIFY, 1},  {"restore", CMD_RESTORE, 1}, {"images", CMD_IMAGES, 1},
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "vesc-rescue: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\nTry 'vesc-rescue --help'.\n");
	va_end(ap);
	return VR_EXIT_USAGE;
}

static int parse_uint(const char *text, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 0);
	if (errno || end == text || *end || v > max || text[0] == '-')
		return -1;
	*out = v;
	return 0;
}

static int handle_option(int opt, const char *arg, struct cli_options *o, int *early_exit)
{
	unsigned long v;
	switch (opt) {
	case OPT_PORT:
		if (o->n_ports == CLI_MAX_PORTS)
			return usage_error("too many --port options (at most %d)", CLI_MAX_PORTS);
		o->ports[o->n_ports++] = arg;
		break;
	case OPT_UART: o->uart = arg; break;
	case OPT_BAUD:
		if (strcmp(arg, "auto") == 0) {
			o->baud_auto = true;
			o->baud = 0;
		} else if (parse_uint(arg, 4000000, &v) || v < 300) {
			return usage_error("--baud wants a rate like 115200, or 'auto': '%s'", arg);
		} else {
			o->baud_auto = false;
			o->baud = (unsigned)v;
		}
		break;
	case OPT_TIMEOUT:
		if (parse_uint(arg, 60000, &v) || v < 10)
			return usage_error("--timeout wants milliseconds between 10 and 60000: '%s'", arg);
		o->timeout_ms = (unsigned)v;
		break;
	case OPT_PROBE: o->probe_serial = arg; break;
	case OPT_SIM: o->sim = arg; break;
	case OPT_JSON: o->json = true; break;
	case OPT_LOG: o->log_path = arg; break;
	case OPT_NO_COLOR: o->no_color = true; break;
	case OPT_YES: o->yes = true; break;
	case OPT_BOOTLOADER: o->bootloader_file = arg; break;
	case OPT_FIRMWARE: o->firmware_file = arg; break;
	case OPT_IMAGES: o->images_dir = arg; break;
	case OPT_HW: o->hw_name = arg; break;
	case OPT_KEEP_CONFIG: o->keep_config = true; break;
	case OPT_RESTORE_CONFIG: o->restore_config = true; break;
	case OPT_BACKUP: o->backup_path = arg; break;
	case OPT_DRY_RUN: o->dry_run = true; break;
	case OPT_ALLOW_UNPROTECT: o->allow_unprotect = true; break;
	case OPT_FORCE: o->force = true; break;
	case OPT_MASS: o->mass = true; break;
	case OPT_SECTORS: o->sectors = arg; break;
	case OPT_AT:
		if (parse_uint(arg, 0xFFFFFFFFul, &v))
			return usage_error("--at wants an address like 0x08000000: '%s'", arg);
		o->have_at = true;
		o->at = (uint32_t)v;
		break;
	case OPT_UDEV: *early_exit = OPT_UDEV; break;
	case OPT_HELP: *early_exit = OPT_HELP; break;
	case OPT_VERSION: *early_exit = OPT_VERSION; break;
	default:
		return VR_EXIT_USAGE;  /* getopt printed the message */
	}
	return 0;
}

static const struct command_name *find_command(const char *word)
{
	for (size_t i = 0; i < sizeof command_names / sizeof command_names[0]; i++)
		if (strcmp(command_names[i].name, word) == 0)
			return &command_names[i];
	return NULL;
}

static int check_combination(const struct cli_options *o)
{
	if (o->keep_config && o->restore_config)
		return usage_error("--keep-config and --restore-config exclude each other");
	if (o->firmware_file && o->images_dir)
		return usage_error("give --firmware or --images, not both");
	if (o->command == CMD_ERASE && o->mass == (o->sectors != NULL))
		return usage_error("erase wants exactly one of --mass or --sectors LIST");
	if ((o->command == CMD_WRITE || o->command == CMD_VERIFY) && !o->have_at)
		return usage_error("%s wants --at ADDR (e.g. 0x080E0000 for a bootloader)",
				   o->command == CMD_WRITE ? "write" : "verify");
	return 0;
}

int cli_parse(int argc, char **argv, struct cli_options *o)
{
	memset(o, 0, sizeof *o);
	o->timeout_ms = 250;
	o->baud_auto = true;
	int early_exit = 0;
	const struct command_name *cmd = NULL;
	const char *positional[4];
	int n_positional = 0;

	/* '-' first in optstring keeps non-options in order, so options may
	 * stand before or after the subcommand. */
	optind = 1;
	opterr = 1;
	int opt;
	while ((opt = getopt_long(argc, argv, "-", long_options, NULL)) != -1) {
		if (opt == 1) {
			if (!cmd && n_positional == 0) {
				cmd = find_command(optarg);
				if (!cmd)
					return usage_error("unknown command '%s' (probe, survey, backup, recover, "
							   "erase, write, verify, restore, images)", optarg);
				continue;
			}
			if (n_positional == 4)
				return usage_error("unexpected argument '%s'", optarg);
			positional[n_positional++] = optarg;
			continue;
		}
		if (opt == '?')
			return VR_EXIT_USAGE;
		int rc = handle_option(opt, optarg, o, &early_exit);
		if (rc)
			return rc;
	}
	if (early_exit) {
		o->command = (enum cli_command)-early_exit;
		return 0;
	}
	o->command = cmd ? cmd->command : CMD_DASHBOARD;
	int wanted = cmd ? cmd->n_positional : 0;
	if (n_positional < wanted)
		return usage_error("%s needs a file or directory argument", cmd->name);
	if (n_positional > wanted)
		return usage_error("unexpected argument '%s'", positional[wanted]);
	if (wanted)
		o->file = positional[0];
	return check_combination(o);
}

int cli_main(int argc, char **argv)
{
	/* A setuid tool that writes files named on its command line is a gift
	 * to an attacker; udev rules give the access it needs. */
	if (getuid() != geteuid() || getgid() != getegid()) {
		fprintf(stderr, "vesc-rescue: refusing to run setuid or setgid; install the udev rules "
				"instead (vesc-rescue --udev-rules)\n");
		return VR_EXIT_USAGE;
	}
	struct cli_options opts;
	int rc = cli_parse(argc, argv, &opts);
	if (rc)
		return rc;
	switch ((int)opts.command) {
	case -OPT_HELP:
		fputs(usage_text, stdout);
		return 0;
	case -OPT_VERSION:
		printf("vesc-rescue %s\n", VR_VERSION);
		return 0;
	case -OPT_UDEV:
		return cmd_udev_rules(&opts);
	default:
		return commands_run(&opts);
	}
}
