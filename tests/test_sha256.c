/* SHA-256 against the FIPS 180-4 / NIST example vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sha256.h"

static void assert_digest(const uint8_t digest[SHA256_DIGEST_LEN], const char *expected_hex)
{
	char hex[SHA256_HEX_LEN];
	sha256_hex(digest, hex);
	assert_string_equal(hex, expected_hex);
}

static void abc(void **state)
{
	(void)state;
	uint8_t d[SHA256_DIGEST_LEN];
	sha256("abc", 3, d);
	assert_digest(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void empty(void **state)
{
	(void)state;
	uint8_t d[SHA256_DIGEST_LEN];
	sha256("", 0, d);
	assert_digest(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void two_blocks_448_bits(void **state)
{
	(void)state;
	const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	uint8_t d[SHA256_DIGEST_LEN];
	sha256(msg, strlen(msg), d);
	assert_digest(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void long_896_bits(void **state)
{
	(void)state;
	const char *msg = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
			  "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	uint8_t d[SHA256_DIGEST_LEN];
	sha256(msg, strlen(msg), d);
	assert_digest(d, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void million_a_streamed_unevenly(void **state)
{
	(void)state;
	char chunk[997];
	memset(chunk, 'a', sizeof chunk);
	struct sha256_ctx ctx;
	sha256_init(&ctx);
	size_t left = 1000000;
	size_t step = 1;
	while (left > 0) {
		size_t n = step < left ? step : left;
		sha256_update(&ctx, chunk, n);
		left -= n;
		step = (step + 7) % sizeof chunk + 1;
	}
	uint8_t d[SHA256_DIGEST_LEN];
	sha256_final(&ctx, d);
	assert_digest(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void padding_boundaries_match_one_shot(void **state)
{
	(void)state;
	/* 55, 56 and 64 bytes straddle the length field; streaming byte by
	 * byte must agree with the one-shot digest. */
	uint8_t msg[130];
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (uint8_t)(i * 7 + 1);
	size_t lens[] = {55, 56, 63, 64, 65, 119, 120, 128};
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		uint8_t one[SHA256_DIGEST_LEN], many[SHA256_DIGEST_LEN];
		sha256(msg, lens[k], one);
		struct sha256_ctx ctx;
		sha256_init(&ctx);
		for (size_t i = 0; i < lens[k]; i++)
			sha256_update(&ctx, msg + i, 1);
		sha256_final(&ctx, many);
		assert_memory_equal(one, many, SHA256_DIGEST_LEN);
	}
	/* 55 'a': a known single-block edge vector */
	uint8_t d[SHA256_DIGEST_LEN];
	char a55[55];
	memset(a55, 'a', sizeof a55);
	sha256(a55, sizeof a55, d);
	assert_digest(d, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(abc),
		cmocka_unit_test(empty),
		cmocka_unit_test(two_blocks_448_bits),
		cmocka_unit_test(long_896_bits),
		cmocka_unit_test(million_a_streamed_unevenly),
		cmocka_unit_test(padding_boundaries_match_one_shot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
