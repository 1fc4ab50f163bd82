#include "ui/dashboard.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "engine.h"
#include "ui/dialogs.h"
#include "ui/screens.h"
#include "ui/termcheck.h"
#include "ui/ui.h"

/* The one piece of UI state. Global because the signal handler must reach
 * the engine and the signal pipe; nothing else is. */
static struct ui ui_state = {.signal_pipe = {-1, -1}};

static const int caught_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH};
#define N_CAUGHT (sizeof caught_signals / sizeof caught_signals[0])
static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define N_CRASH (sizeof crash_signals / sizeof crash_signals[0])

double ui_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ui_say(struct ui *ui, enum ui_color color, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ui->message, sizeof ui->message, fmt, ap);
	va_end(ap);
	ui->message_color = color;
}

/* ---- terminal ------------------------------------------------------------- */

static void restore_terminal(void)
{
	if (ui_state.curses_active && !isendwin())
		endwin();
	ui_state.curses_active = false;
}

static void on_signal(int signo)
{
	int saved = errno;
	if (signo != SIGWINCH) {
		ui_state.signal_seen = signo;
		if (ui_state.engine)
			engine_cancel_from_signal(ui_state.engine);
	}
	unsigned char byte = (unsigned char)signo;
	ssize_t ignored = write(ui_state.signal_pipe[1], &byte, 1);
	(void)ignored;
	errno = saved;
}

/* A bug must not leave the person's terminal raw over SSH: put the tty
 * back with async-signal-safe calls only, then die of the same signal
 * (SA_RESETHAND restored the default action). */
static void on_crash(int signo)
{
	if (ui_state.curses_active) {
		if (ui_state.have_tty_modes)
			tcsetattr(STDIN_FILENO, TCSANOW, &ui_state.tty_modes);
		ssize_t ignored = write(STDOUT_FILENO, ui_state.tty_restore, strlen(ui_state.tty_restore));
		(void)ignored;
	}
	raise(signo);
}

static void install_crash_handlers(void)
{
	ui_state.have_tty_modes = tcgetattr(STDIN_FILENO, &ui_state.tty_modes) == 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_crash;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_CRASH; i++)
		sigaction(crash_signals[i], &sa, NULL);
}

static bool install_signals(void)
{
	install_crash_handlers();
	if (pipe2(ui_state.signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return false;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_CAUGHT; i++)
		sigaction(caught_signals[i], &sa, NULL);
	return true;
}

static void uninstall_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (size_t i = 0; i < N_CAUGHT; i++)
		sigaction(caught_signals[i], &sa, NULL);
	for (size_t i = 0; i < N_CRASH; i++)
		sigaction(crash_signals[i], &sa, NULL);
	for (int i = 0; i < 2; i++)
		if (ui_state.signal_pipe[i] >= 0)
			close(ui_state.signal_pipe[i]);
	ui_state.signal_pipe[0] = ui_state.signal_pipe[1] = -1;
}

/* The engine's worker must never take our signals: block them while it is
 * created (it inherits the mask), so the handler always runs here. */
static void block_signals(bool block, sigset_t *saved)
{
	if (block) {
		sigset_t set;
		sigemptyset(&set);
		for (size_t i = 0; i < N_CAUGHT; i++)
			sigaddset(&set, caught_signals[i]);
		pthread_sigmask(SIG_BLOCK, &set, saved);
	} else
		pthread_sigmask(SIG_SETMASK, saved, NULL);
}

static bool start_curses(struct ui *ui, const struct cli_options *opts)
{
	SCREEN *screen = newterm(NULL, stdout, stdin);
	if (!screen)
		return false;
	set_term(screen);
	ui->curses_screen = screen;
	ui_state.curses_active = true;
	atexit(restore_terminal);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25);
	curs_set(0);
	ui->utf8 = theme_codeset_is_utf8(nl_langinfo(CODESET));
	ui->glyphs = theme_glyphs(ui->utf8);
	theme_start(theme_color_wanted(opts->no_color, getenv("NO_COLOR"), has_colors()), ui->utf8);
	layout_compute(LINES, COLS, &ui->layout);
	return true;
}

static void resize(struct ui *ui)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
		resizeterm(ws.ws_row, ws.ws_col);
	layout_compute(LINES, COLS, &ui->layout);
	clearok(curscr, TRUE);
}

/* ---- engine ---------------------------------------------------------------- */

static void refresh_log(struct ui *ui, unsigned had)
{
	unsigned count = ui->view.log_count;
	if (count == had && had != 0)
		return;
	unsigned first = count > ENGINE_LOG_LINES ? count - ENGINE_LOG_LINES : 0;
	engine_log(ui->engine, first, ui->log_lines, ENGINE_LOG_LINES);
}

static void refresh_view(struct ui *ui)
{
	enum engine_phase was = ui->view.phase;
	unsigned had_log = ui->view.log_count;
	struct engine_progress before = ui->view.progress;
	engine_wakeup_drain(ui->engine);
	engine_view(ui->engine, &ui->view);
	const struct engine_progress *p = &ui->view.progress;
	if (p->active && (!before.active || p->elapsed_s != before.elapsed_s || strcmp(p->what, before.what))) {
		ui->progress_seen_at = ui_now();
		ui->progress_seen_elapsed = p->elapsed_s;
	}
	/* New work makes an old message stale; answers and refusals stay
	 * on the status line while nothing runs. */
	if (keymap_can_start_work(was) && !keymap_can_start_work(ui->view.phase))
		ui->message[0] = '\0';
	/* The step the refusal was about is over: q quits now. */
	if (ui->dialog == DIALOG_QUIT_REFUSED && keymap_quit_action(ui->view.phase) == QUIT_NOW)
		ui->dialog = DIALOG_NONE;
	refresh_log(ui, had_log);
}

static bool start_engine(struct ui *ui, struct vr_error *err)
{
	sigset_t saved;
	block_signals(true, &saved);
	struct engine *old = ui->engine;
	ui->engine = NULL;
	engine_free(old);
	struct engine *e = NULL;
	vr_err rc = engine_new(&ui->opts, &e, err);
	ui->engine = rc == VR_OK ? e : NULL;
	block_signals(false, &saved);
	if (rc != VR_OK)
		return false;
	memset(&ui->view, 0, sizeof ui->view);
	refresh_view(ui);
	/* Probing only reads: the dashboard opens on what is there. */
	engine_request(ui->engine, ENGINE_REQ_PROBE, NULL, 0);
	return true;
}

/* A restart with options the person chose; if the engine refuses them, go
 * back to the command line's. */
static bool restart_engine(struct ui *ui, const struct cli_options *original)
{
	struct vr_error err;
	vr_error_clear(&err);
	if (start_engine(ui, &err))
		return true;
	char why[sizeof err.msg];
	snprintf(why, sizeof why, "%s", err.msg);
	ui->opts = *original;
	vr_error_clear(&err);
	if (!start_engine(ui, &err))
		return false;
	ui_say(ui, UIC_ERROR, "could not start that: %s", why);
	return true;
}

/* ---- the loop ---------------------------------------------------------------- */

static void draw(struct ui *ui)
{
	screens_prepare(ui);
	erase();
	screens_draw(ui);
	if (!ui->layout.too_small)
		dialogs_draw(ui);
	refresh();
}

static unsigned dispatch_key(struct ui *ui, int key)
{
	if (key == KEY_RESIZE) {
		layout_compute(LINES, COLS, &ui->layout);
		return UI_REDRAW;
	}
	if (key == 12) { /* ^L: the terminal was scribbled on */
		clearok(curscr, TRUE);
		return UI_REDRAW;
	}
	/* A question the person cannot see must not be answerable blindly. */
	if (ui->layout.too_small)
		return key == 'q' ? dialogs_quit(ui) : UI_NOTHING;
	if (dialogs_active(ui))
		return dialogs_key(ui, key);
	ui->message[0] = '\0';
	if (key == 'q')
		return dialogs_quit(ui);
	return screens_key(ui, key);
}

static void handle_signals(struct ui *ui)
{
	unsigned char buf[16];
	ssize_t n;
	while ((n = read(ui_state.signal_pipe[0], buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == SIGWINCH) {
				resize(ui);
				continue;
			}
			engine_request(ui->engine, ENGINE_REQ_CANCEL, NULL, 0);
			engine_request(ui->engine, ENGINE_REQ_QUIT_AFTER_STEP, NULL, 0);
			ui->quit_after_step = true;
		}
}

/* Returns UI_QUIT when the loop should end. */
static unsigned handle_keys(struct ui *ui, const struct cli_options *original)
{
	unsigned all = UI_NOTHING;
	int key;
	while ((key = getch()) != ERR) {
		unsigned r = dispatch_key(ui, key);
		if (r & UI_RESTART) {
			if (!restart_engine(ui, original))
				return UI_QUIT;
		}
		all |= r;
		if (r & UI_QUIT)
			break;
		/* Keys answer against the state they were pressed in. */
		refresh_view(ui);
	}
	return all;
}

/* At most one frame this often: a write reports progress per block,
 * hundreds of times a second, and a Raspberry Pi over SSH should spend its
 * time on the USB transfers. A key still shows within 50 ms. */
#define FRAME_S 0.03

static int poll_timeout_ms(const struct ui *ui)
{
	/* An erase reports rarely: tick its clock; otherwise sleep until
	 * something happens (an idle dashboard uses no CPU). */
	if (ui->view.progress.active)
		return 250;
	return -1;
}

static bool time_to_leave(const struct ui *ui)
{
	return ui->quit_after_step && keymap_quit_action(ui->view.phase) == QUIT_NOW;
}

static void input_gone(struct ui *ui)
{
	/* The terminal went away (SSH dropped): stop safely, then leave. */
	engine_request(ui->engine, ENGINE_REQ_CANCEL, NULL, 0);
	engine_request(ui->engine, ENGINE_REQ_QUIT_AFTER_STEP, NULL, 0);
	ui->quit_after_step = true;
	ui->input_gone = true;
}

/* Draws when something changed and the last frame is old enough; returns
 * how long poll may sleep. */
static int frame(struct ui *ui, bool *dirty, bool *stale, double *last_draw)
{
	int wait = poll_timeout_ms(ui);
	if (!*dirty)
		return wait;
	double since = ui_now() - *last_draw;
	if (since < FRAME_S) {
		int rest = (int)((FRAME_S - since) * 1000.0) + 1;
		return wait < 0 || rest < wait ? rest : wait;
	}
	if (*stale)
		refresh_view(ui);
	*stale = false;
	draw(ui);
	*last_draw = ui_now();
	*dirty = false;
	return wait;
}

static void loop(struct ui *ui, const struct cli_options *original)
{
	bool dirty = true, stale = false;
	double last_draw = 0;
	for (;;) {
		int wait = frame(ui, &dirty, &stale, &last_draw);
		if (time_to_leave(ui))
			return;
		struct pollfd fds[3] = {
			{.fd = ui->input_gone ? -1 : STDIN_FILENO, .events = POLLIN},
			{.fd = engine_wakeup_fd(ui->engine), .events = POLLIN},
			{.fd = ui_state.signal_pipe[0], .events = POLLIN},
		};
		int ready = poll(fds, 3, wait);
		if (ready < 0 && errno != EINTR)
			return;
		if (ready == 0)
			dirty = true;  /* a tick: the erase clock moves */
		if (fds[2].revents & POLLIN) {
			handle_signals(ui);
			dirty = stale = true;
		}
		if (fds[1].revents & POLLIN) {
			/* Only note it: the view is copied when a frame is drawn. */
			engine_wakeup_drain(ui->engine);
			dirty = stale = true;
		}
		if (fds[0].revents & (POLLHUP | POLLERR) && !(fds[0].revents & POLLIN)) {
			input_gone(ui);
			dirty = true;
		}
		if (fds[0].revents & POLLIN) {
			refresh_view(ui);  /* keys answer the state they were pressed in */
			stale = false;
			unsigned r = handle_keys(ui, original);
			if (r & UI_QUIT)
				return;
			dirty = dirty || r != UI_NOTHING;
		}
		if (stale && ui->quit_after_step) {
			/* Leaving depends on the phase: do not wait for a frame. */
			refresh_view(ui);
			stale = false;
		}
	}
}

/* ---- entry ------------------------------------------------------------------- */

static int final_status(const struct ui *ui)
{
	const struct engine_view *v = &ui->view;
	if (ui->signal_seen)
		return VR_EXIT_INTERRUPTED;
	if (v->phase == ENGINE_FINISHED)
		return v->exit_status;
	if (v->have_observations)
		return v->verdict.exit_status;
	return VR_EXIT_OK;
}

static void print_summary(const struct ui *ui)
{
	const struct engine_view *v = &ui->view;
	if (v->phase == ENGINE_FINISHED && v->outcome[0])
		printf("vesc-rescue: %s\n", v->outcome);
	else if (v->have_observations)
		printf("vesc-rescue: %s\n", v->verdict.summary);
	if (v->backup_path[0])
		printf("vesc-rescue: backup: %s\n", v->backup_path);
	if (ui->signal_seen)
		printf("vesc-rescue: stopped by signal %d at a safe point; run again to resume\n",
		       (int)ui->signal_seen);
}

static int line_mode(const struct cli_options *opts, const char *why)
{
	int status = cmd_probe(opts);
	fflush(stdout);
	fprintf(stderr,
		"vesc-rescue: no dashboard here (%s), so this is the `probe` report. For the dashboard, "
		"run vesc-rescue in a terminal that can address the cursor (TERM=xterm-256color, tmux, "
		"an SSH session with a tty: ssh -t).\n",
		why);
	return status;
}

static void init_state(struct ui *ui, const struct cli_options *opts)
{
	memset(ui, 0, sizeof *ui);
	ui->signal_pipe[0] = ui->signal_pipe[1] = -1;
	ui->opts = *opts;
	if (opts->sim)
		snprintf(ui->sim_spec, sizeof ui->sim_spec, "%s", opts->sim);
	const char *images[FIELD_COUNT_] = {opts->bootloader_file, opts->firmware_file, opts->images_dir,
					    opts->hw_name};
	for (int i = 0; i < FIELD_COUNT_; i++)
		snprintf(ui->image_values[i], sizeof ui->image_values[i], "%s", images[i] ? images[i] : "");
}

static void stop_engine(struct ui *ui)
{
	struct engine *e = ui->engine;
	ui->engine = NULL;
	engine_free(e);  /* after the loop the engine is idle: this is quick */
}

int ui_dashboard_run(const struct cli_options *opts)
{
	setlocale(LC_ALL, "");
	char restore[sizeof ui_state.tty_restore];
	const char *why = termcheck_here(restore, sizeof restore);
	if (why)
		return line_mode(opts, why);
	struct ui *ui = &ui_state;
	init_state(ui, opts);
	memcpy(ui->tty_restore, restore, sizeof restore);
	if (!install_signals())
		return line_mode(opts, "cannot set up signal handling");
	struct vr_error err;
	vr_error_clear(&err);
	/* Before curses: a bad --sim or --log is an ordinary error message. */
	if (!start_engine(ui, &err)) {
		uninstall_signals();
		fprintf(stderr, "vesc-rescue: %s\n", err.msg);
		return vr_err_exit_status(err.code);
	}
	if (!start_curses(ui, opts)) {
		stop_engine(ui);
		uninstall_signals();
		return line_mode(opts, "curses cannot start on this terminal");
	}
	screens_open(ui, SCREEN_MAIN);
	loop(ui, opts);
	int status = final_status(ui);
	stop_engine(ui);
	restore_terminal();
	delscreen(ui->curses_screen);
	ui->curses_screen = NULL;
	uninstall_signals();
	print_summary(ui);
	return status;
}
