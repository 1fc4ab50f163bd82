/* Intel HEX reader: record types 00 (data), 01 (end of file), 02 (extended
 * segment address), 03 (start segment address), 04 (extended linear
 * address), 05 (start linear address). Checksums verified, CRLF, LF or CR
 * line ends, overlapping records refused, nothing after the end-of-file
 * record, and a missing end-of-file record means a truncated file. */
#ifndef VR_IHEX_H
#define VR_IHEX_H

#include <stddef.h>

#include "errors.h"
#include "images/image.h"

/* Parses text (len bytes, not necessarily NUL-terminated) into img, which
 * must be freshly initialised. name labels the messages ("fw.hex line 12:
 * ..."). On failure img may hold part of the data: free it. */
vr_err ihex_parse(const char *text, size_t len, const char *name, struct image *img,
		  struct vr_error *err);

#endif
