#include "ui/lineedit.h"

#include <curses.h>
#include <string.h>

void lineedit_set(struct line_edit *le, const char *text)
{
	size_t n = text ? strlen(text) : 0;
	if (n >= LINEEDIT_CAP)
		n = LINEEDIT_CAP - 1;
	if (n)
		memcpy(le->text, text, n);
	le->text[n] = '\0';
	le->len = le->cursor = n;
}

static void erase_at(struct line_edit *le, size_t at)
{
	memmove(le->text + at, le->text + at + 1, le->len - at);
	le->len--;
}

static bool insert(struct line_edit *le, char c)
{
	if (le->len + 1 >= LINEEDIT_CAP)
		return true;  /* full: swallow the key rather than pass it on */
	memmove(le->text + le->cursor + 1, le->text + le->cursor, le->len - le->cursor + 1);
	le->text[le->cursor++] = c;
	le->len++;
	return true;
}

bool lineedit_key(struct line_edit *le, int key)
{
	switch (key) {
	case KEY_BACKSPACE:
	case 127:
	case 8:
		if (le->cursor > 0)
			erase_at(le, --le->cursor);
		return true;
	case KEY_DC:
		if (le->cursor < le->len)
			erase_at(le, le->cursor);
		return true;
	case KEY_LEFT:
		if (le->cursor > 0)
			le->cursor--;
		return true;
	case KEY_RIGHT:
		if (le->cursor < le->len)
			le->cursor++;
		return true;
	case KEY_HOME:
	case 1: /* ^A */
		le->cursor = 0;
		return true;
	case KEY_END:
	case 5: /* ^E */
		le->cursor = le->len;
		return true;
	case 21: /* ^U: the shell's "kill line" */
		lineedit_set(le, "");
		return true;
	default:
		if (key >= 32 && key < 256 && key != 127)
			return insert(le, (char)key);
		return false;
	}
}
