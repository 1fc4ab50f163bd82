#include "report.h"

#include <math.h>
#include <string.h>

#include "version.h"

void report_fw_version_text(const struct fw_version *fw, char *out, size_t cap)
{
	if (fw->major < 0)
		snprintf(out, cap, "?");
	else if (fw->test_version > 0)
		snprintf(out, cap, "%d.%02d-beta%d", fw->major, fw->minor, fw->test_version);
	else
		snprintf(out, cap, "%d.%02d", fw->major, fw->minor);
}

/* ---- text ------------------------------------------------------------ */

static void text_usb(FILE *out, const struct observations *obs)
{
	fprintf(out, "USB:\n");
	if (obs->usb_error)
		fprintf(out, "  libusb failed: %s\n", obs->usb_error_text);
	if (obs->n_usb == 0 && !obs->usb_error)
		fprintf(out, "  nothing relevant enumerates (no VESC, ST-Link, DFU or USB-UART device)\n");
	for (unsigned i = 0; i < obs->n_usb; i++) {
		const struct usb_obs *u = &obs->usb[i];
		fprintf(out, "  %04x:%04x %-12s %s%s%s%s\n", u->vid, u->pid, usb_kind_name(u->kind),
			u->model, u->tty[0] ? " on " : "", u->tty, u->serial[0] ? "" : "");
		if (u->access != VR_OK)
			fprintf(out, "      %s\n", u->error);
	}
}

static void text_serial_line(FILE *out, const struct serial_obs *s)
{
	char version[32];
	switch (s->status) {
	case SERIAL_VESC:
		report_fw_version_text(&s->fw, version, sizeof version);
		fprintf(out, "  %-20s VESC firmware %s, HW %s", s->port, version,
			s->fw.hw_name[0] ? s->fw.hw_name : "(not reported)");
		if (s->baud)
			fprintf(out, ", %u baud", s->baud);
		fprintf(out, " (%u ms)\n", s->reply_ms);
		break;
	case SERIAL_ERROR:
		fprintf(out, "  %-20s error: %s\n", s->port, s->error);
		break;
	default:
		fprintf(out, "  %-20s %s%s%s\n", s->port, serial_status_name(s->status),
			s->detail[0] ? ": " : "", s->detail);
	}
}

static void text_serial(FILE *out, const struct observations *obs)
{
	fprintf(out, "Serial:\n");
	if (obs->n_serial == 0)
		fprintf(out, "  no serial port that could be a VESC\n");
	for (unsigned i = 0; i < obs->n_serial; i++)
		text_serial_line(out, &obs->serial[i]);
}

static void text_voltage(FILE *out, const struct swd_obs *swd)
{
	if (!swd->voltage_known) {
		fprintf(out, "  target voltage: not reported by this probe\n");
		return;
	}
	fprintf(out, "  target voltage: %.2f V (a clone ST-Link may report its own 3.3 V, or 0 V)\n",
		swd->voltage);
}

static void text_sectors(FILE *out, const struct swd_obs *swd)
{
	fprintf(out, "  sectors:");
	for (unsigned i = 0; i < F4_SECTORS; i++)
		fprintf(out, " %u:%s", i, sector_state_name(swd->sectors[i].state));
	fprintf(out, "\n");
}

static void text_swd(FILE *out, const struct swd_obs *swd)
{
	fprintf(out, "SWD:\n");
	if (!swd->tried) {
		fprintf(out, "  not tried\n");
		return;
	}
	if (!swd->probe_found) {
		fprintf(out, "  no usable ST-Link: %s\n", swd->probe_error);
		return;
	}
	fprintf(out, "  probe: %s %s, serial %s\n", swd->probe_name, swd->probe_version, swd->probe_serial);
	text_voltage(out, swd);
	for (unsigned i = 0; i < swd->n_rungs; i++)
		fprintf(out, "  attach %-12s %s: %s\n", attach_result_name(swd->ladder[i].rung),
			swd->ladder[i].ok ? "ok" : "failed", swd->ladder[i].saw);
	if (!swd->target_found) {
		if (swd->advice[0])
			fprintf(out, "  %s\n", swd->advice);
		return;
	}
	fprintf(out, "  target: %s (DEV_ID 0x%03X rev 0x%04X), %u KB flash, RDP level %d\n",
		swd->target_name, swd->dev_id, swd->rev_id, swd->flash_kb, swd->rdp);
	if (swd->survey_done)
		text_sectors(out, swd);
}

void report_probe_text(FILE *out, const struct observations *obs, const struct verdict *v)
{
	if (obs->simulated)
		fprintf(out, "SIMULATED BENCH: scenario %s (nothing real is touched)\n", obs->sim_name);
	text_usb(out, obs);
	text_serial(out, obs);
	text_swd(out, &obs->swd);
	fprintf(out, "\nFirmware: %s. Bootloader: %s.\n", fw_verdict_name(v->firmware),
		bl_verdict_name(v->bootloader));
	fprintf(out, "%s\n", v->summary);
	if (v->next[0])
		fprintf(out, "Next: %s\n", v->next);
}

/* ---- JSON ------------------------------------------------------------ */

static void json_access(struct json_writer *w, vr_err access, const char *error)
{
	if (access == VR_OK) {
		json_null(w, "error");
		return;
	}
	json_string(w, "error", error);
}

void report_json_usb(struct json_writer *w, const struct observations *obs)
{
	json_array_begin(w, "usb");
	for (unsigned i = 0; i < obs->n_usb; i++) {
		const struct usb_obs *u = &obs->usb[i];
		json_object_begin(w, NULL);
		json_hex16(w, "vid", u->vid);
		json_hex16(w, "pid", u->pid);
		json_string(w, "kind", usb_kind_name(u->kind));
		json_string(w, "model", u->model);
		json_string(w, "manufacturer", u->manufacturer);
		json_string(w, "product", u->product);
		json_string(w, "serial", u->serial);
		json_string(w, "path", u->path);
		json_string(w, "tty", u->tty[0] ? u->tty : NULL);
		json_access(w, u->access, u->error);
		json_object_end(w);
	}
	json_array_end(w);
}

static void json_firmware(struct json_writer *w, const struct fw_version *fw)
{
	json_object_begin(w, "firmware");
	json_int(w, "major", fw->major);
	json_int(w, "minor", fw->minor);
	json_string(w, "hw", fw->hw_name);
	if (fw->has_uuid)
		json_hex_bytes(w, "uuid", fw->uuid, sizeof fw->uuid);
	else
		json_null(w, "uuid");
	if (fw->test_version >= 0)
		json_int(w, "test", fw->test_version);
	else
		json_null(w, "test");
	if (fw->hw_type >= 0)
		json_int(w, "hw_type", fw->hw_type);
	else
		json_null(w, "hw_type");
	json_string(w, "fw_name", fw->fw_name);
	if (fw->has_hw_conf_crc)
		json_hex32(w, "hw_conf_crc", fw->hw_conf_crc);
	json_object_end(w);
}

void report_json_serial(struct json_writer *w, const struct observations *obs)
{
	json_array_begin(w, "serial");
	for (unsigned i = 0; i < obs->n_serial; i++) {
		const struct serial_obs *s = &obs->serial[i];
		json_object_begin(w, NULL);
		json_string(w, "port", s->port);
		json_string(w, "status", serial_status_name(s->status));
		if (s->baud)
			json_uint(w, "baud", s->baud);
		else
			json_null(w, "baud");
		json_string(w, "error", s->status == SERIAL_ERROR ? s->error : NULL);
		json_string(w, "detail", s->detail);
		if (s->vid || s->pid) {
			json_hex16(w, "vid", s->vid);
			json_hex16(w, "pid", s->pid);
		}
		json_uint(w, "frames", s->frames);
		json_uint(w, "crc_errors", s->crc_errors);
		json_uint(w, "noise_bytes", s->noise_bytes);
		if (s->status == SERIAL_VESC) {
			json_uint(w, "reply_ms", s->reply_ms);
			json_firmware(w, &s->fw);
		} else {
			json_null(w, "firmware");
		}
		json_object_end(w);
	}
	json_array_end(w);
}

static void json_ladder(struct json_writer *w, const struct swd_obs *swd)
{
	json_array_begin(w, "ladder");
	for (unsigned i = 0; i < swd->n_rungs; i++) {
		json_object_begin(w, NULL);
		json_string(w, "rung", attach_result_name(swd->ladder[i].rung));
		json_bool(w, "ok", swd->ladder[i].ok);
		if (swd->ladder[i].dpidr)
			json_hex32(w, "dpidr", swd->ladder[i].dpidr);
		json_string(w, "saw", swd->ladder[i].saw);
		json_object_end(w);
	}
	json_array_end(w);
}

static void json_target(struct json_writer *w, const struct swd_obs *swd)
{
	if (!swd->target_found) {
		json_null(w, "target");
		return;
	}
	char dev[8];
	snprintf(dev, sizeof dev, "0x%03x", (unsigned)swd->dev_id);
	json_object_begin(w, "target");
	json_string(w, "dev_id", dev);
	json_hex16(w, "rev_id", (uint16_t)swd->rev_id);
	json_string(w, "name", swd->target_name);
	json_hex32(w, "dpidr", swd->dpidr);
	json_hex32(w, "cpuid", swd->cpuid);
	json_uint(w, "flash_kb", swd->flash_kb);
	json_hex_bytes(w, "uid", swd->uid, sizeof swd->uid);
	if (swd->rdp >= 0)
		json_int(w, "rdp", swd->rdp);
	else
		json_null(w, "rdp");
	json_hex32(w, "optcr", swd->optcr);
	json_array_begin(w, "write_protected");
	for (unsigned i = 0; i < F4_SECTORS; i++)
		if (!(swd->nwrp & (1u << i)))
			json_uint(w, NULL, i);
	json_array_end(w);
	json_object_end(w);
}

static void json_sectors(struct json_writer *w, const struct swd_obs *swd)
{
	json_array_begin(w, "sectors");
	for (unsigned i = 0; swd->survey_done && i < F4_SECTORS; i++) {
		const struct sector_obs *s = &swd->sectors[i];
		json_object_begin(w, NULL);
		json_uint(w, "index", s->index);
		json_hex32(w, "address", s->address);
		json_uint(w, "size", s->size);
		json_string(w, "state", sector_state_name(s->state));
		if (s->crc_known)
			json_hex32(w, "crc32", s->crc32);
		json_object_end(w);
	}
	json_array_end(w);
}

static const char *crcinfo_name(enum crcinfo_state c)
{
	switch (c) {
	case CRCINFO_NEVER_BOOTED: return "never-booted";
	case CRCINFO_BOOTED: return "booted";
	case CRCINFO_GARBAGE: return "garbage";
	default: return "unknown";
	}
}

static void json_app_and_bootloader(struct json_writer *w, const struct swd_obs *swd)
{
	if (!swd->survey_done) {
		json_null(w, "app");
		json_null(w, "bootloader");
		return;
	}
	json_object_begin(w, "app");
	json_bool(w, "vector_valid", swd->app.vector_valid);
	json_hex32(w, "sp", swd->app.sp);
	json_hex32(w, "reset", swd->app.reset);
	json_int(w, "fw_gen", swd->app.fw_gen);
	json_string(w, "crcinfo", crcinfo_name(swd->app.crcinfo));
	if (swd->app.crc_checked)
		json_bool(w, "crc_ok", swd->app.crc_ok);
	else
		json_null(w, "crc_ok");
	json_object_end(w);
	json_object_begin(w, "bootloader");
	json_bool(w, "present", swd->bootloader.present);
	json_bool(w, "blank", swd->bootloader.blank);
	json_string(w, "kind", bl_kind_name(swd->bootloader.kind));
	json_uint(w, "size_guess", swd->bootloader.size_guess);
	json_bool(w, "known_build", swd->bootloader.hash_known);
	json_object_end(w);
	json_object_begin(w, "staging");
	json_bool(w, "pending", swd->staging.pending);
	if (swd->staging.pending) {
		json_uint(w, "size", swd->staging.size);
		json_bool(w, "compressed", swd->staging.compressed);
		json_bool(w, "crc_ok", swd->staging.crc_ok);
	}
	json_object_end(w);
}

void report_json_swd(struct json_writer *w, const struct swd_obs *swd)
{
	json_object_begin(w, "swd");
	json_bool(w, "tried", swd->tried);
	if (swd->probe_found) {
		json_object_begin(w, "probe");
		json_string(w, "name", swd->probe_name);
		json_string(w, "version", swd->probe_version);
		json_string(w, "serial", swd->probe_serial);
		json_hex16(w, "pid", swd->probe_pid);
		json_object_end(w);
		json_null(w, "probe_error");
	} else {
		json_null(w, "probe");
		json_string(w, "probe_error", swd->tried ? swd->probe_error : NULL);
	}
	json_double(w, "voltage", swd->voltage_known ? swd->voltage : NAN, 2);
	json_string(w, "attach", attach_result_name(swd->attach));
	json_ladder(w, swd);
	json_target(w, swd);
	json_sectors(w, swd);
	json_app_and_bootloader(w, swd);
	json_string(w, "advice", swd->advice[0] ? swd->advice : NULL);
	json_object_end(w);
}

void report_json_verdict(struct json_writer *w, const struct verdict *v)
{
	json_object_begin(w, "verdict");
	json_string(w, "firmware", fw_verdict_name(v->firmware));
	json_string(w, "bootloader", bl_verdict_name(v->bootloader));
	json_string(w, "kind", v->bl_kind != BL_KIND_UNKNOWN ? bl_kind_name(v->bl_kind) : NULL);
	json_string(w, "summary", v->summary);
	json_string(w, "next", v->next);
	json_int(w, "exit_status", v->exit_status);
	json_object_end(w);
}

void report_probe_json(FILE *out, const struct observations *obs, const struct verdict *v)
{
	struct json_writer w;
	json_init(&w, out, true);
	json_object_begin(&w, NULL);
	json_int(&w, "schema", 1);
	json_string(&w, "tool", "vesc-rescue " VR_VERSION);
	json_string(&w, "mode", obs->simulated ? "sim" : "live");
	json_string(&w, "sim", obs->simulated ? obs->sim_name : NULL);
	report_json_usb(&w, obs);
	report_json_serial(&w, obs);
	report_json_swd(&w, &obs->swd);
	report_json_verdict(&w, v);
	json_object_end(&w);
	json_finish(&w);
}
