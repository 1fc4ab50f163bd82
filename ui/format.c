#include "ui/format.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "report.h"

void fmt_bytes(uint64_t n, char *out, size_t cap)
{
	if (n < 1024)
		snprintf(out, cap, "%llu B", (unsigned long long)n);
	else if (n < 1024u * 1024u)
		snprintf(out, cap, "%.1f KiB", (double)n / 1024.0);
	else
		snprintf(out, cap, "%.2f MiB", (double)n / (1024.0 * 1024.0));
}

void fmt_duration(double seconds, char *out, size_t cap)
{
	if (seconds < 0 || isnan(seconds))
		snprintf(out, cap, "?");
	else if (seconds < 10)
		snprintf(out, cap, "%.1f s", seconds);
	else if (seconds < 60)
		snprintf(out, cap, "%.0f s", seconds);
	else {
		unsigned long whole = (unsigned long)(seconds + 0.5);
		snprintf(out, cap, "%lu min %02lu s", whole / 60, whole % 60);
	}
}

static double clamp01(double x)
{
	if (isnan(x) || x < 0)
		return 0;
	return x > 1 ? 1 : x;
}

double fmt_progress_fraction(const struct engine_progress *p)
{
	if (p->total > 0)
		return clamp01((double)p->done / (double)p->total);
	double bound = p->max_s > 0 ? p->max_s : p->typical_s;
	if (bound > 0)
		return clamp01(p->elapsed_s / bound);
	return 0;
}

void fmt_bar(double fraction, unsigned width, const struct ui_glyphs *g, char *out, size_t cap)
{
	unsigned filled = (unsigned)(clamp01(fraction) * width + 0.5);
	size_t used = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < width; i++) {
		const char *cell = i < filled ? g->bar_done : g->bar_todo;
		size_t len = strlen(cell);
		if (used + len + 1 > cap)
			break;
		memcpy(out + used, cell, len + 1);
		used += len;
	}
}

static void transfer_text(const struct engine_progress *p, char *out, size_t cap)
{
	char done[24], total[24], rate[24] = "", eta[24] = "";
	fmt_bytes(p->done, done, sizeof done);
	fmt_bytes(p->total, total, sizeof total);
	if (p->rate_bps > 0) {
		char r[24];
		fmt_bytes((uint64_t)p->rate_bps, r, sizeof r);
		snprintf(rate, sizeof rate, ", %s/s", r);
	}
	if (p->eta_s >= 0) {
		char d[24];
		fmt_duration(p->eta_s, d, sizeof d);
		snprintf(eta, sizeof eta, ", ETA %s", d);
	}
	snprintf(out, cap, "%s of %s%s%s", done, total, rate, eta);
}

static void timed_text(const struct engine_progress *p, char *out, size_t cap)
{
	char elapsed[24], typical[24], max[24];
	fmt_duration(p->elapsed_s, elapsed, sizeof elapsed);
	fmt_duration(p->typical_s, typical, sizeof typical);
	fmt_duration(p->max_s, max, sizeof max);
	if (p->typical_s <= 0)
		snprintf(out, cap, "%s elapsed", elapsed);
	else if (p->max_s > 0 && p->elapsed_s > p->max_s)
		/* The person has been told the worst case; past it they need to
		 * know it is not normal any more. */
		snprintf(out, cap, "%s elapsed, past the %s maximum: still waiting for the chip", elapsed, max);
	else if (p->max_s > 0)
		snprintf(out, cap, "%s elapsed, typical %s, max %s", elapsed, typical, max);
	else
		snprintf(out, cap, "%s elapsed, typical %s", elapsed, typical);
}

void fmt_progress_text(const struct engine_progress *p, char *out, size_t cap)
{
	if (p->total > 0)
		transfer_text(p, out, cap);
	else
		timed_text(p, out, cap);
}

static const struct {
	char cell;
	enum ui_color color;
	const char *legend;
} sector_looks[] = {
	[SECTOR_UNKNOWN] = {'?', UIC_SECTOR_UNKNOWN, "unknown"},
	[SECTOR_BLANK] = {'.', UIC_SECTOR_BLANK, "blank"},
	[SECTOR_APP] = {'A', UIC_SECTOR_APP, "app"},
	[SECTOR_CONFIG] = {'C', UIC_SECTOR_CONFIG, "config"},
	[SECTOR_STAGING] = {'S', UIC_SECTOR_STAGING, "staging"},
	[SECTOR_BOOTLOADER] = {'B', UIC_SECTOR_BOOT, "boot"},
	[SECTOR_DATA] = {'D', UIC_SECTOR_DATA, "data"},
	[SECTOR_PROTECTED] = {'P', UIC_SECTOR_PROTECTED, "protected"},
};
#define N_SECTOR_LOOKS (sizeof sector_looks / sizeof sector_looks[0])

char fmt_sector_char(enum sector_state s)
{
	return (unsigned)s < N_SECTOR_LOOKS ? sector_looks[s].cell : '?';
}

enum ui_color fmt_sector_color(enum sector_state s)
{
	return (unsigned)s < N_SECTOR_LOOKS ? sector_looks[s].color : UIC_SECTOR_UNKNOWN;
}

void fmt_sector_legend(const enum sector_state *states, size_t n, char *out, size_t cap)
{
	/* Legend order follows the flash: what a person meets first. Only the
	 * states on the map are named, so the line fits the pane. */
	static const enum sector_state order[] = {SECTOR_APP, SECTOR_CONFIG, SECTOR_STAGING, SECTOR_DATA,
						  SECTOR_BOOTLOADER, SECTOR_BLANK, SECTOR_PROTECTED, SECTOR_UNKNOWN};
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof order / sizeof order[0] && used < cap; i++) {
		bool present = false;
		for (size_t k = 0; k < n && !present; k++)
			present = states[k] == order[i];
		if (!present)
			continue;
		int len = snprintf(out + used, cap - used, "%s%c %s", used ? " " : "", sector_looks[order[i]].cell,
				   sector_looks[order[i]].legend);
		if (len < 0)
			break;
		used += (size_t)len;
	}
}

const char *fmt_row_mark(enum plan_row_state s, const struct ui_glyphs *g)
{
	switch (s) {
	case ROW_DONE: return g->row_done;
	case ROW_CURRENT: return g->row_current;
	case ROW_FAILED: return g->row_failed;
	case ROW_SKIPPED: return g->row_skipped;
	default: return g->row_pending;
	}
}

enum ui_color fmt_row_color(enum plan_row_state s)
{
	switch (s) {
	case ROW_DONE: return UIC_ROW_DONE;
	case ROW_CURRENT: return UIC_ROW_CURRENT;
	case ROW_FAILED: return UIC_ROW_FAILED;
	case ROW_SKIPPED: return UIC_ROW_SKIPPED;
	default: return UIC_ROW_PENDING;
	}
}

const char *fmt_usb_kind_label(enum usb_kind k)
{
	switch (k) {
	case USB_KIND_VESC_CDC: return "VESC USB";
	case USB_KIND_STLINK: return "ST-Link";
	case USB_KIND_STLINK_BOOT: return "ST-Link (bootloader)";
	case USB_KIND_STM32_DFU: return "STM32 DFU";
	case USB_KIND_UART_BRIDGE: return "UART bridge";
	case USB_KIND_ESP32: return "ESP32";
	default: return "other";
	}
}

void fmt_usb_line(const struct usb_obs *u, char *out, size_t cap)
{
	const char *name = u->model[0] ? u->model : u->product;
	if (u->access != VR_OK)
		snprintf(out, cap, "%s %04x:%04x: %s", fmt_usb_kind_label(u->kind), u->vid, u->pid,
			 u->error[0] ? u->error : vr_err_str(u->access));
	else
		snprintf(out, cap, "%s %04x:%04x %s%s%s", fmt_usb_kind_label(u->kind), u->vid, u->pid, u->tty,
			 u->tty[0] ? " " : "", name);
}

void fmt_serial_line(const struct serial_obs *s, char *out, size_t cap)
{
	char version[32];
	switch (s->status) {
	case SERIAL_VESC:
		report_fw_version_text(&s->fw, version, sizeof version);
		snprintf(out, cap, "%s  VESC %s HW %s", s->port, version,
			 s->fw.hw_name[0] ? s->fw.hw_name : "?");
		break;
	case SERIAL_ERROR:
		snprintf(out, cap, "%s  error: %s", s->port, s->error[0] ? s->error : vr_err_str(s->err));
		break;
	default:
		snprintf(out, cap, "%s  %s%s%s", s->port, serial_status_name(s->status), s->detail[0] ? ": " : "",
			 s->detail);
	}
}

enum ui_color fmt_serial_color(enum serial_status s)
{
	switch (s) {
	case SERIAL_VESC: return UIC_OK;
	case SERIAL_ERROR: return UIC_ERROR;
	default: return UIC_WARN;
	}
}

void fmt_voltage_line(const struct swd_obs *swd, char *out, size_t cap)
{
	if (!swd->probe_found)
		snprintf(out, cap, "VDD ?  (no ST-Link)");
	else if (!swd->voltage_known)
		snprintf(out, cap, "VDD ?  (the probe does not say)");
	else if (swd->voltage < 1.7)
		snprintf(out, cap, "VDD %.2f V  unpowered? power the VESC", swd->voltage);
	else
		/* A clone reports its own 3.3 V output, not the VESC's (CONTRACTS §5). */
		snprintf(out, cap, "VDD %.2f V (clone: its own 3.3 V)", swd->voltage);
}

void fmt_attach_line(const struct swd_obs *swd, char *out, size_t cap)
{
	if (!swd->tried)
		snprintf(out, cap, "SWD not tried yet");
	else if (!swd->probe_found)
		snprintf(out, cap, "SWD: no usable ST-Link");
	else if (!swd->target_found)
		snprintf(out, cap, "SWD %s: target does not answer", attach_result_name(swd->attach));
	else if (swd->rdp < 0)
		snprintf(out, cap, "SWD %s  DEV_ID 0x%03x  RDP ?", attach_result_name(swd->attach),
			 (unsigned)swd->dev_id);
	else
		snprintf(out, cap, "SWD %s  DEV_ID 0x%03x  RDP %d", attach_result_name(swd->attach),
			 (unsigned)swd->dev_id, swd->rdp);
}

void fmt_firmware_line(const struct verdict *v, const struct swd_obs *swd, char *out, size_t cap)
{
	const char *why = "";
	if (v->firmware == FW_CORRUPT && swd->app.crc_checked && !swd->app.crc_ok)
		why = " (CRC check fails)";
	else if (v->firmware == FW_CORRUPT && !swd->app.vector_valid)
		why = " (bad vector table)";
	else if (v->firmware == FW_ABSENT)
		why = " (app sectors blank)";
	snprintf(out, cap, "Firmware: %s%s", fw_verdict_name(v->firmware), why);
}

void fmt_bootloader_line(const struct verdict *v, char *out, size_t cap)
{
	if (v->bootloader == BL_PRESENT && v->bl_kind != BL_KIND_UNKNOWN)
		snprintf(out, cap, "Bootloader: present (%s)", bl_kind_name(v->bl_kind));
	else
		snprintf(out, cap, "Bootloader: %s", bl_verdict_name(v->bootloader));
}

size_t fmt_columns(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

size_t fmt_prefix_bytes(const char *s, size_t columns)
{
	size_t i = 0, seen = 0;
	while (s[i]) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (seen == columns)
				break;
			seen++;
		}
		i++;
	}
	return i;
}

/* Copies at most `bytes` bytes into a line slot, cut to its capacity
 * without splitting a UTF-8 sequence. */
static void put_line(char *slot, size_t line_cap, const char *from, size_t bytes)
{
	if (bytes >= line_cap) {
		bytes = line_cap - 1;
		while (bytes > 0 && ((unsigned char)from[bytes] & 0xC0) == 0x80)
			bytes--;
	}
	memcpy(slot, from, bytes);
	slot[bytes] = '\0';
}

/* Length in bytes of the next line of at most width columns from p: breaks
 * at the last space when a word does not fit, mid-word when it alone is
 * longer than the line. *skip says how many bytes to drop after it. */
static size_t next_line(const char *p, size_t width, size_t *skip)
{
	size_t fit = fmt_prefix_bytes(p, width);
	const char *nl = memchr(p, '\n', fit);
	*skip = 0;
	if (nl) {
		*skip = 1;
		return (size_t)(nl - p);
	}
	if (p[fit] == '\0' || p[fit] == '\n' || p[fit] == ' ') {
		*skip = p[fit] ? 1 : 0;
		return fit;
	}
	for (size_t i = fit; i > 0; i--)
		if (p[i - 1] == ' ') {
			*skip = 1;
			return i - 1;
		}
	return fit;
}

size_t fmt_wrap(const char *text, size_t width, char *lines, size_t line_cap, size_t max_lines)
{
	if (width == 0 || max_lines == 0 || line_cap == 0)
		return 0;
	size_t n = 0;
	const char *p = text;
	while (*p && n < max_lines) {
		size_t skip;
		size_t len = next_line(p, width, &skip);
		put_line(lines + n * line_cap, line_cap, p, len);
		n++;
		p += len + skip;
	}
	return n;
}

static const struct {
	unsigned code;
	const char *ascii;
} ascii_looks[] = {
	{0x2013, "-"}, {0x2014, "-"}, {0x2192, "->"}, {0x2190, "<-"}, {0x2026, "..."},
	{0x2018, "'"}, {0x2019, "'"}, {0x201C, "\""}, {0x201D, "\""}, {0x00B7, "."},
	{0x2713, "+"}, {0x2717, "x"}, {0x00D7, "x"}, {0x2264, "<="}, {0x2265, ">="},
	{0x00B0, "deg"}, {0x00B5, "u"}, {0x25B6, ">"},
};

/* Decodes one UTF-8 sequence at s; returns its length (1 for a stray
 * byte, which decodes to 0xFFFD). */
static size_t utf8_decode(const unsigned char *s, unsigned *code)
{
	size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 1;
	unsigned value = len == 1 ? s[0] : s[0] & (0x3Fu >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80) {
			*code = 0xFFFD;
			return 1;
		}
		value = (value << 6) | (s[i] & 0x3Fu);
	}
	*code = len == 1 && s[0] >= 0x80 ? 0xFFFD : value;
	return len;
}

void fmt_ascii(const char *in, char *out, size_t cap)
{
	size_t used = 0;
	const unsigned char *p = (const unsigned char *)in;
	while (*p && used + 1 < cap) {
		unsigned code;
		p += utf8_decode(p, &code);
		const char *look = "?";
		char plain[2] = {(char)code, '\0'};
		if (code < 0x80)
			look = plain;
		for (size_t i = 0; i < sizeof ascii_looks / sizeof ascii_looks[0]; i++)
			if (ascii_looks[i].code == code)
				look = ascii_looks[i].ascii;
		size_t len = strlen(look);
		if (used + len + 1 > cap)
			break;
		memcpy(out + used, look, len);
		used += len;
	}
	out[used] = '\0';
}
