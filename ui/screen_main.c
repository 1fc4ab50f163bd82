#include "ui/screen_main.h"

#include "ui/dialogs.h"
#include "ui/panes.h"
#include "ui/screens.h"

void screen_main_init(struct ui *ui)
{
	ui->main_log_back = 0;
}

void screen_main_draw(const struct ui *ui)
{
	const struct ui_layout *l = &ui->layout;
	panes_header(ui, l->header);
	panes_link(ui, l->link);
	panes_target(ui, l->target);
	panes_plan(ui, l->plan);
	panes_log(ui, l->log);
	panes_status(ui, l->status);
	screens_draw_footer(ui, l->footer);
}

static unsigned start_work(struct ui *ui, enum engine_request req, const char *what)
{
	char why[160] = "";
	if (!keymap_can_start_work(ui->view.phase)) {
		ui_say(ui, UIC_WARN, "%s: not now, wait for the current step", what);
		return UI_REDRAW;
	}
	if (engine_request(ui->engine, req, why, sizeof why))
		ui_say(ui, UIC_NORMAL, "%s...", what);
	else
		ui_say(ui, UIC_WARN, "%s refused: %s", what, why);
	return UI_REDRAW;
}

static unsigned run_step(struct ui *ui, enum engine_request req)
{
	if (ui->view.phase == ENGINE_FINISHED) {
		ui_say(ui, UIC_NORMAL, "the plan is finished: r probes again");
		return UI_REDRAW;
	}
	if (panes_current_row(&ui->view) < 0) {
		ui_say(ui, UIC_WARN, "no step to run yet: press r to probe first");
		return UI_REDRAW;
	}
	return start_work(ui, req, req == ENGINE_REQ_RUN_ON ? "running on" : "running the step");
}

unsigned screen_main_key(struct ui *ui, int key)
{
	unsigned n = ui->view.log_count < ENGINE_LOG_LINES ? ui->view.log_count : ENGINE_LOG_LINES;
	unsigned page = ui->layout.log.h > 3 ? (unsigned)ui->layout.log.h - 2 : 1;
	switch (key) {
	case 'r':
		/* Probing again also forgets a No given before: the plan
		 * asks again. */
		return start_work(ui, ENGINE_REQ_PROBE, "probing");
	case 'a':
		return run_step(ui, ENGINE_REQ_RUN_ON);
	case 'i':
		if (!keymap_can_start_work(ui->view.phase)) {
			ui_say(ui, UIC_WARN, "images can be chosen when no step runs");
			return UI_REDRAW;
		}
		dialogs_open(ui, DIALOG_IMAGES);
		return UI_REDRAW;
	case 's':
		if (!keymap_can_start_work(ui->view.phase)) {
			ui_say(ui, UIC_WARN, "the simulated bench can be opened when no step runs");
			return UI_REDRAW;
		}
		dialogs_open(ui, DIALOG_SIM);
		return UI_REDRAW;
	case KEY_PPAGE:
		ui->main_log_back = ui->main_log_back + page < n ? ui->main_log_back + page : n;
		return UI_REDRAW;
	case KEY_NPAGE:
		ui->main_log_back = ui->main_log_back > page ? ui->main_log_back - page : 0;
		return UI_REDRAW;
	case KEY_END:
		ui->main_log_back = 0;
		return UI_REDRAW;
	default:
		if (keymap_is_enter(key))
			return run_step(ui, ENGINE_REQ_STEP);
		return UI_NOTHING;
	}
}
