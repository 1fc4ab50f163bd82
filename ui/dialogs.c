#include "ui/dialogs.h"

#include <stdio.h>
#include <string.h>

#include "ui/draw.h"
#include "ui/dialog_forms.h"
#include "ui/format.h"
#include "ui/screens.h"


/* Clears a centred box of h x w and frames it; returns its inside. */
struct ui_rect dialogs_box(const struct ui *ui, int h, int w, enum ui_color color, const char *title)
{
	struct ui_rect r = layout_dialog(ui->layout.rows, ui->layout.cols, h, w);
	draw_fill(r, color);
	draw_box(r, ui->glyphs, color, title);
	struct ui_rect in = {.y = r.y + 1, .x = r.x + 2, .h = r.h - 2, .w = r.w - 4};
	return in;
}

static int wrapped_height(const char *text, int width)
{
	char lines[40][256];
	return (int)fmt_wrap(text, (size_t)width, &lines[0][0], sizeof lines[0], 40);
}

/* A box sized to its text, with a closing line of keys. */
static void text_dialog(const struct ui *ui, enum ui_color color, const char *title, const char *body,
			const char *keys)
{
	int w = DIALOG_W < ui->layout.cols - 4 ? DIALOG_W : ui->layout.cols - 4;
	int body_h = wrapped_height(body, w - 4);
	struct ui_rect in = dialogs_box(ui, body_h + 4, w, color, title);
	struct ui_rect text = {.y = in.y, .x = in.x, .h = in.h - 2, .w = in.w};
	draw_wrapped(text, color, body);
	draw_text(in.y + in.h - 1, in.x, in.w, color, keys);
}

/* ---- the engine's questions ------------------------------------------- */

static void confirm_draw(const struct ui *ui)
{
	const struct engine_confirm *c = &ui->view.confirm;
	char body[sizeof c->body + 200];
	snprintf(body, sizeof body, "%s%s", c->body,
		 c->needs_unprotect ? "\n\nThis also removes a protection of the chip (read or write protection)."
				    : "");
	if (c->question)  /* a question of fact, not a permission */
		text_dialog(ui, UIC_DIALOG, c->title[0] ? c->title : "Question", body,
			    "y = yes                 n / Enter / Esc = no");
	else
		text_dialog(ui, UIC_DIALOG_DANGER, c->title[0] ? c->title : "Confirm", body,
			    "y = yes, do it          n / Enter / Esc = no (the default)");
}

static unsigned confirm_key(struct ui *ui, int key)
{
	enum dialog_answer a = keymap_confirm_key(key);
	if (a == ANSWER_PENDING)
		return UI_NOTHING;
	engine_answer(ui->engine, a == ANSWER_YES);
	if (a == ANSWER_YES)
		ui_say(ui, UIC_NORMAL, "answered yes: %s", ui->view.confirm.title);
	else
		ui_say(ui, UIC_WARN, "answered no: nothing was changed (r looks again and re-plans)");
	return UI_REDRAW;
}

static void person_draw(const struct ui *ui)
{
	text_dialog(ui, UIC_DIALOG, "Your hands are needed", ui->view.person_prompt,
		    "Enter = done          Esc = give up");
}

static unsigned person_key(struct ui *ui, int key)
{
	enum dialog_answer a = keymap_person_key(key);
	if (a == ANSWER_PENDING)
		return UI_NOTHING;
	engine_person_done(ui->engine, a == ANSWER_YES);
	return UI_REDRAW;
}

/* ---- quit refused -------------------------------------------------------- */

static void quit_refused_draw(const struct ui *ui)
{
	struct engine_progress p = screens_live_progress(ui);
	char body[600], bound[80] = "";
	if (p.active && p.total == 0 && p.max_s > p.elapsed_s)
		snprintf(bound, sizeof bound, " (at most %.0f s more)", p.max_s - p.elapsed_s);
	else if (p.active && p.eta_s >= 0)
		snprintf(bound, sizeof bound, " (about %.0f s more)", p.eta_s);
	snprintf(body, sizeof body,
		 "Not now: %s is running. Stopping an erase or a write midway leaves the flash "
		 "half done, so the step must finish first%s.\n\n"
		 "y: quit when this step is done (nothing else will be started)%s",
		 p.active && p.what[0] ? p.what : "a step", bound,
		 p.active && p.cancellable ? "\nc: stop at the next safe point, then quit" : "");
	text_dialog(ui, UIC_DIALOG, "Quit?", body, "Esc / n = keep going");
}

static void ask_quit_after_step(struct ui *ui, bool cancel_too)
{
	if (cancel_too)
		engine_request(ui->engine, ENGINE_REQ_CANCEL, NULL, 0);
	engine_request(ui->engine, ENGINE_REQ_QUIT_AFTER_STEP, NULL, 0);
	ui->quit_after_step = true;
}

static unsigned quit_refused_key(struct ui *ui, int key)
{
	const struct engine_progress *p = &ui->view.progress;
	if (key == 'y' || key == 'Y') {
		ask_quit_after_step(ui, false);
		ui->dialog = DIALOG_NONE;
	} else if ((key == 'c' || key == 'C') && p->active && p->cancellable) {
		ask_quit_after_step(ui, true);
		ui->dialog = DIALOG_NONE;
	} else if (key == 'n' || key == KEY_ESCAPE || keymap_is_enter(key) || key == 'q')
		ui->dialog = DIALOG_NONE;
	else
		return UI_NOTHING;
	return UI_REDRAW;
}

unsigned dialogs_quit(struct ui *ui)
{
	switch (keymap_quit_action(ui->view.phase)) {
	case QUIT_NOW:
		return UI_QUIT;
	case QUIT_STOP_PROBE:
		/* A probe only reads: stopping it early loses nothing. */
		ask_quit_after_step(ui, true);
		return UI_REDRAW;
	default:
		dialogs_open(ui, DIALOG_QUIT_REFUSED);
		return UI_REDRAW;
	}
}

/* ---- backup ------------------------------------------------------------ */

static void backup_draw(const struct ui *ui)
{
	const struct engine_view *v = &ui->view;
	char body[1200];
	if (v->backup_path[0])
		snprintf(body, sizeof body, "The backup of this chip is in\n  %s\nwith its manifest %s.json.\n\n"
					    "Journal (what was done, for a resume):\n  %s",
			 v->backup_path, v->backup_path, v->journal_path[0] ? v->journal_path : "(none yet)");
	else
		snprintf(body, sizeof body,
			 "No backup yet. The plan makes one (every readable byte, with a manifest) before "
			 "anything is erased or written.\n\nJournal:\n  %s",
			 v->journal_path[0] ? v->journal_path : "(none yet)");
	text_dialog(ui, UIC_DIALOG, "Backup", body, "any key closes");
}

static unsigned backup_key(struct ui *ui, int key)
{
	ui->dialog = DIALOG_NONE;
	return UI_REDRAW;
}

/* ---- dispatch ----------------------------------------------------------- */

struct dialog_ops {
	void (*open)(struct ui *ui);
	void (*draw)(const struct ui *ui);
	unsigned (*key)(struct ui *ui, int key);
};

static void no_open(struct ui *ui) { (void)ui; }

static const struct dialog_ops dialog_table[] = {
	[DIALOG_QUIT_REFUSED] = {no_open, quit_refused_draw, quit_refused_key},
	[DIALOG_BACKUP] = {no_open, backup_draw, backup_key},
	[DIALOG_IMAGES] = {dialog_images_open, dialog_images_draw, dialog_images_key},
	[DIALOG_SIM] = {dialog_sim_open, dialog_sim_draw, dialog_sim_key},
};

void dialogs_open(struct ui *ui, enum ui_dialog dialog)
{
	ui->dialog = dialog;
	if (dialog != DIALOG_NONE)
		dialog_table[dialog].open(ui);
}

static bool engine_asks(const struct ui *ui)
{
	return ui->view.phase == ENGINE_CONFIRM || ui->view.phase == ENGINE_PERSON;
}

bool dialogs_active(const struct ui *ui)
{
	return engine_asks(ui) || ui->dialog != DIALOG_NONE;
}

void dialogs_draw(const struct ui *ui)
{
	curs_set(0);
	if (ui->view.phase == ENGINE_CONFIRM)
		confirm_draw(ui);
	else if (ui->view.phase == ENGINE_PERSON)
		person_draw(ui);
	else if (ui->dialog != DIALOG_NONE) {
		if (ui->dialog == DIALOG_IMAGES)
			curs_set(1);
		dialog_table[ui->dialog].draw(ui);
	}
}

unsigned dialogs_key(struct ui *ui, int key)
{
	if (ui->view.phase == ENGINE_CONFIRM)
		return confirm_key(ui, key);
	if (ui->view.phase == ENGINE_PERSON)
		return person_key(ui, key);
	if (ui->dialog != DIALOG_NONE)
		return dialog_table[ui->dialog].key(ui, key);
	return UI_NOTHING;
}
