/* A one-line text field for the image paths: insert, delete, move. Pure,
 * so the editing rules are unit-tested. */
#ifndef VR_UI_LINEEDIT_H
#define VR_UI_LINEEDIT_H

#include <stdbool.h>
#include <stddef.h>

#define LINEEDIT_CAP 512

struct line_edit {
	char text[LINEEDIT_CAP];
	size_t len, cursor;          /* bytes; the field holds what a person types */
};

void lineedit_set(struct line_edit *le, const char *text);
/* Returns true when the key edited or moved; false for keys it leaves to
 * the caller (Enter, Esc, Tab, Up, Down...). */
bool lineedit_key(struct line_edit *le, int key);

#endif
