/* libFuzzer: COMM_FW_VERSION and the update-path reply parsers on
 * arbitrary payloads. Strings must come out terminated, short and
 * printable; nothing may be read past the payload (ASan watches: the
 * input is copied into an exactly sized heap block). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vesc_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_string(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);
	if (n >= cap)
		abort();
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			abort();
}

static void check_version(const uint8_t *p, size_t size)
{
	struct fw_version fw;
	struct vr_error err;
	vr_err r = vesc_fw_version_parse(p, size, &fw, &err);
	if (r != VR_OK) {
		if (size >= 3 && p[0] == 0)
			abort();   /* every 0x00-led payload of 3+ bytes is a version */
		return;
	}
	if (fw.major != p[1] || fw.minor != p[2] || fw.payload_len != size)
		abort();
	check_string(fw.hw_name, sizeof fw.hw_name);
	check_string(fw.fw_name, sizeof fw.fw_name);
	if (fw.has_hw_conf_crc && fw.nrf_flags < 0)
		abort();   /* fields only ever come in order */
	if (fw.nrf_flags >= 0 && !fw.has_uuid)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *p = malloc(size ? size : 1);
	if (!p)
		return 0;
	if (size)
		memcpy(p, data, size);
	check_version(p, size);
	bool ok;
	(void)vesc_parse_ok_reply(p, size, VESC_COMM_ERASE_BOOTLOADER, &ok, NULL);
	struct vesc_write_reply w;
	if (vesc_parse_write_reply(p, size, &w, NULL) == VR_OK && w.has_offset != (size >= 6))
		abort();
	free(p);
	return 0;
}
