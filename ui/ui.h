/* The dashboard's state: ONE struct, owned by dashboard.c, lent to the
 * screens and dialogs. Screens and dialogs are trios (init / draw / key);
 * key handlers change this state and return what must happen next; only
 * the loop in dashboard.c draws. Not a public interface: dashboard.h is. */
#ifndef VR_UI_UI_H
#define VR_UI_UI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <termios.h>

#include "cli.h"
#include "engine.h"
#include "ui/keymap.h"
#include "ui/layout.h"
#include "ui/lineedit.h"
#include "ui/theme.h"

/* What a key handler asks of the loop. */
enum ui_reaction {
	UI_NOTHING = 0,
	UI_REDRAW = 1 << 0,
	UI_QUIT = 1 << 1,        /* leave the loop (the engine is idle) */
	UI_RESTART = 1 << 2,     /* engine_free + engine_new with ui->opts, then probe */
};

/* Dialogs the dashboard opens itself; the engine's questions (confirm,
 * person) are shown whenever the phase says so, above everything. */
enum ui_dialog {
	DIALOG_NONE = 0,
	DIALOG_QUIT_REFUSED,     /* a step runs */
	DIALOG_BACKUP,           /* where the backup went */
	DIALOG_IMAGES,           /* choose images */
	DIALOG_SIM,              /* pick a scenario to rehearse */
};

enum image_field { FIELD_BOOTLOADER = 0, FIELD_FIRMWARE, FIELD_IMAGES_DIR, FIELD_HW, FIELD_COUNT_ };

struct ui {
	/* The options the engine runs with; string members point into the
	 * buffers below (or into argv) so a restart can change them. */
	struct cli_options opts;
	char sim_spec[96];
	char image_values[FIELD_COUNT_][LINEEDIT_CAP];

	struct engine *engine;
	struct engine_view view;
	double progress_seen_at;     /* monotonic s when the progress last changed */
	double progress_seen_elapsed;

	struct ui_layout layout;
	const struct ui_glyphs *glyphs;
	bool utf8;

	enum ui_screen screen;
	enum ui_dialog dialog;
	int pager_top[SCREEN_COUNT_];    /* first line shown on the pager screens */
	bool log_follow;                 /* the log screen sticks to the tail */
	unsigned main_log_back;          /* main Log pane: lines scrolled back */

	char message[240];               /* the status line when nothing runs */
	enum ui_color message_color;

	struct line_edit fields[FIELD_COUNT_];
	enum image_field field;
	char form_error[200];
	size_t sim_choice;

	bool quit_after_step;            /* asked the engine: leave when it is idle */
	volatile sig_atomic_t signal_seen;  /* SIGINT/SIGTERM/SIGHUP number, 0 none */
	int signal_pipe[2];              /* handler -> loop: signal numbers */
	bool curses_active;
	SCREEN *curses_screen;           /* freed after endwin */
	bool input_gone;
	/* For the crash handler: the tty as it was, and how to leave curses
	 * without curses (both only read from a signal handler). */
	bool have_tty_modes;
	struct termios tty_modes;
	char tty_restore[64];                 /* the terminal hung up: stop reading it */
	char log_lines[ENGINE_LOG_LINES][ENGINE_LOG_LINE_MAX];
	/* The transcript wrapped for the full-screen log (screens_prepare). */
	char log_wrapped[ENGINE_LOG_LINES * 3][ENGINE_LOG_LINE_MAX];
	size_t n_log_wrapped;
	unsigned log_wrapped_count;
	int log_wrapped_width;
};

/* Time in seconds on the monotonic clock. */
double ui_now(void);
/* Sets the status-line message (printf-style). */
void ui_say(struct ui *ui, enum ui_color color, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
