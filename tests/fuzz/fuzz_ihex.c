/* libFuzzer: the Intel HEX loader on arbitrary text. It must either load
 * or refuse with VR_ERR_INPUT and a message; a loaded image must be
 * sorted, non-overlapping, never touching, and hold exactly the bytes the
 * records gave. The input is copied into an exactly sized heap block so
 * ASan sees any read past it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "images/ihex.h"
#include "images/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_image(const struct image *img)
{
	if (img->n_segs == 0)
		abort();   /* success means at least one data record */
	for (size_t i = 0; i < img->n_segs; i++) {
		const struct image_segment *s = &img->segs[i];
		if (s->len == 0 || s->len > s->cap || s->data == NULL)
			abort();
		if ((uint64_t)s->addr + s->len > 0x100000000ull)
			abort();
		if (i > 0 && (uint64_t)img->segs[i - 1].addr + img->segs[i - 1].len >= s->addr)
			abort();   /* overlapping or touching (should have merged) */
		uint8_t probe;
		if (!image_byte_at(img, s->addr + s->len - 1, &probe) || probe != s->data[s->len - 1])
			abort();
	}
	/* a HEX line carries at most 255 bytes in 11 + 510 characters */
	if (image_byte_count(img) > 255 * 1024 * 1024)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	struct image img;
	struct vr_error err;
	image_init(&img);
	vr_error_clear(&err);
	vr_err rc = ihex_parse(copy, size, "fuzz.hex", &img, &err);
	if (rc == VR_OK) {
		check_image(&img);
		if (image_byte_count(&img) > size / 2)
			abort();   /* two hex digits per data byte at least */
	} else if (rc != VR_ERR_INPUT && rc != VR_ERR_NOMEM) {
		abort();
	} else if (err.msg[0] == '\0' || err.code != rc) {
		abort();
	}
	image_free(&img);
	/* the whole loader path too, with its format sniffing */
	image_init(&img);
	rc = image_load_buffer((const uint8_t *)copy, size, "fuzz.hex", IMAGE_FORMAT_AUTO, 0, &img, &err);
	if (rc == VR_OK)
		check_image(&img);
	else if (!image_empty(&img))
		abort();   /* a refusal leaves nothing behind */
	image_free(&img);
	free(copy);
	return 0;
}
