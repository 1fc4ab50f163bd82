/* Sentences for people, built into fixed buffers: cut at the buffer's
 * end, never overrun. */
#ifndef VR_TEXT_H
#define VR_TEXT_H

#include <stddef.h>

/* Replaces buf's text. */
void text_put(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Adds to buf's text; nothing when it is full. */
void text_append(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
