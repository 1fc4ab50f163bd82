/* Pure text for the dashboard: sizes, durations, progress bars, sector map
 * cells, the Link and Target pane lines, word wrapping. No curses calls, no
 * engine calls: everything here is unit-tested (tests/test_ui_format.c). */
#ifndef VR_UI_FORMAT_H
#define VR_UI_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "observe.h"
#include "ui/theme.h"

/* "512 B", "16.0 KiB", "1.00 MiB" */
void fmt_bytes(uint64_t n, char *out, size_t cap);
/* "0.4 s", "12 s", "1 min 05 s"; negative: "?" */
void fmt_duration(double seconds, char *out, size_t cap);

/* How far a step is, 0..1: bytes done for transfers; for timed steps
 * (erases: total 0) elapsed against the maximum, so the bar fills only
 * when the datasheet's worst case is reached. */
double fmt_progress_fraction(const struct engine_progress *p);
/* width cells of done/todo glyphs. */
void fmt_bar(double fraction, unsigned width, const struct ui_glyphs *g, char *out, size_t cap);
/* The words beside the bar: "384.0 KiB of 512.0 KiB, 48.0 KiB/s, ETA 3 s" or
 * "3.2 s elapsed, typical 8 s, max 16 s". */
void fmt_progress_text(const struct engine_progress *p, char *out, size_t cap);

/* One cell of the sector map: a letter that still reads in monochrome. */
char fmt_sector_char(enum sector_state s);
enum ui_color fmt_sector_color(enum sector_state s);
/* "A app C config . blank": the legend for the states in states[0..n). */
void fmt_sector_legend(const enum sector_state *states, size_t n, char *out, size_t cap);

const char *fmt_row_mark(enum plan_row_state s, const struct ui_glyphs *g);
enum ui_color fmt_row_color(enum plan_row_state s);

/* "VESC", "ST-Link", "STM32 DFU", "UART bridge", ... */
const char *fmt_usb_kind_label(enum usb_kind k);
/* "ST-Link  ST-LINK/V2 0483:3748", with the access problem when there is one */
void fmt_usb_line(const struct usb_obs *u, char *out, size_t cap);
/* "/dev/ttyACM0  VESC 6.05 HW 60" or "/dev/ttyUSB0  silent: <cause>" */
void fmt_serial_line(const struct serial_obs *s, char *out, size_t cap);
enum ui_color fmt_serial_color(enum serial_status s);

/* Target pane lines. */
void fmt_voltage_line(const struct swd_obs *swd, char *out, size_t cap);
void fmt_attach_line(const struct swd_obs *swd, char *out, size_t cap);
void fmt_firmware_line(const struct verdict *v, const struct swd_obs *swd, char *out, size_t cap);
void fmt_bootloader_line(const struct verdict *v, char *out, size_t cap);

/* Display columns of a UTF-8 string (code points; our texts hold no wide
 * characters), and the byte length of its first `columns` columns. */
size_t fmt_columns(const char *s);
size_t fmt_prefix_bytes(const char *s, size_t columns);

/* Text for a terminal that is not UTF-8: common punctuation becomes its
 * ASCII look-alike ("\u2014" -> "-", "\u2192" -> "->"), anything else
 * non-ASCII "?", so one character is still one column. */
void fmt_ascii(const char *in, char *out, size_t cap);

/* Word-wraps text into lines of at most width columns; '\n' forces a break.
 * Returns the number of lines used (at most max_lines; the last one is cut
 * when the text is longer). Each line holds at most line_cap-1 bytes. */
size_t fmt_wrap(const char *text, size_t width, char *lines, size_t line_cap, size_t max_lines);

#endif
