/* Writes the bench's synthetic images to files for the end-to-end tests:
 *   tool_synth firmware MAJOR.MINOR FILE [seed]
 *   tool_synth bootloader generic|hw40|hw60|old FILE
 * They are not real VESC binaries; they have the shape the tool checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/synth.h"

static int write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

static enum bl_kind kind_named(const char *name)
{
	if (strcmp(name, "hw40") == 0)
		return BL_KIND_HW40;
	if (strcmp(name, "hw60") == 0)
		return BL_KIND_HW60;
	if (strcmp(name, "old") == 0)
		return BL_KIND_OLD;
	return BL_KIND_GENERIC;
}

int main(int argc, char **argv)
{
	static uint8_t buf[1024 * 1024];
	if (argc >= 4 && strcmp(argv[1], "firmware") == 0) {
		int major = 0, minor = 0;
		if (sscanf(argv[2], "%d.%d", &major, &minor) != 2)
			return 2;
		uint32_t seed = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 0) : 0x56455343u;
		size_t n = synth_firmware(buf, sizeof buf, major, minor, seed);
		return n ? write_file(argv[3], buf, n) : 1;
	}
	if (argc >= 4 && strcmp(argv[1], "bootloader") == 0) {
		size_t n = synth_bootloader(buf, sizeof buf, kind_named(argv[2]));
		return n ? write_file(argv[3], buf, n) : 1;
	}
	fprintf(stderr, "usage: tool_synth firmware MAJOR.MINOR FILE [seed] | bootloader KIND FILE\n");
	return 2;
}
