/* Command line (CONTRACTS.md §2): global options, subcommands, dispatch. */
#ifndef VR_CLI_H
#define VR_CLI_H

#include <stdbool.h>
#include <stdint.h>

#define CLI_MAX_PORTS 16

enum cli_command {
	CMD_DASHBOARD = 0,
	CMD_PROBE,
	CMD_SURVEY,
	CMD_BACKUP,
	CMD_RECOVER,
	CMD_ERASE,
	CMD_WRITE,
	CMD_VERIFY,
	CMD_RESTORE,
	CMD_IMAGES,
};

struct cli_options {
	enum cli_command command;
	/* global */
	const char *ports[CLI_MAX_PORTS];
	unsigned n_ports;
	const char *uart;
	unsigned baud;              /* 0 = auto */
	bool baud_auto;
	unsigned timeout_ms;        /* per-port reply wait, 250 */
	const char *probe_serial;
	const char *sim;            /* scenario spec, NULL = live */
	bool json;
	const char *log_path;
	bool no_color;
	bool yes;
	/* recover */
	const char *bootloader_file;
	const char *firmware_file;
	const char *images_dir;
	const char *hw_name;
	bool keep_config, restore_config, dry_run, allow_unprotect, force;
	const char *backup_path;
	/* erase / write / verify / restore / backup / images */
	bool mass;
	const char *sectors;        /* "1,2,5-7" */
	const char *file;           /* positional FILE, BACKUP or DIR */
	bool have_at;
	uint32_t at;
};

int cli_main(int argc, char **argv);

/* Parses argv into opts; on error prints a message and returns the exit
 * status to use (2), else 0. Exposed for tests. */
int cli_parse(int argc, char **argv, struct cli_options *opts);

#endif
