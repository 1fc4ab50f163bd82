/* SHA-256 (FIPS 180-4), for image identity ("the file changed between load
 * and write") and for recognising released bootloader builds by hash. */
#ifndef VR_SHA256_H
#define VR_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN 65   /* 64 digits and the terminating NUL */

struct sha256_ctx {
	uint32_t state[8];
	uint64_t total_len;     /* bytes fed so far */
	uint8_t block[64];
	size_t block_len;
};

void sha256_init(struct sha256_ctx *ctx);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
void sha256_final(struct sha256_ctx *ctx, uint8_t digest[SHA256_DIGEST_LEN]);

/* One-shot digest of a buffer. */
void sha256(const void *data, size_t len, uint8_t digest[SHA256_DIGEST_LEN]);

/* Lowercase hex of a digest into out (SHA256_HEX_LEN bytes). */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_LEN], char out[SHA256_HEX_LEN]);

#endif
