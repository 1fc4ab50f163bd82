/* The probe report: observations and verdict as a short text for people, or
 * as one JSON object (CONTRACTS.md §4) for scripts. */
#ifndef VR_REPORT_H
#define VR_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "json.h"
#include "observe.h"

void report_probe_text(FILE *out, const struct observations *obs, const struct verdict *v);
void report_probe_json(FILE *out, const struct observations *obs, const struct verdict *v);

/* The sections, for commands that embed them in their own object. */
void report_json_usb(struct json_writer *w, const struct observations *obs);
void report_json_serial(struct json_writer *w, const struct observations *obs);
void report_json_swd(struct json_writer *w, const struct swd_obs *swd);
void report_json_verdict(struct json_writer *w, const struct verdict *v);

/* "6.05", "2.18", "?" */
void report_fw_version_text(const struct fw_version *fw, char *out, size_t cap);

#endif
