/* CRC check values computed independently (reference §1.2 and the
 * catalogue of parametrised CRC algorithms). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "crc.h"

static void xmodem_check_value(void **state)
{
	(void)state;
	assert_int_equal(crc16_xmodem("123456789", 9), 0x31C3);
	const uint8_t fw_version_req[] = {0x00};
	assert_int_equal(crc16_xmodem(fw_version_req, 1), 0x0000);
	const uint8_t three[] = {0x00, 0x01, 0x02};
	assert_int_equal(crc16_xmodem(three, 3), 0x1373);
	const uint8_t erase_bl[] = {0x49};
	assert_int_equal(crc16_xmodem(erase_bl, 1), 0xD9ED);
}

static void xmodem_256_bytes(void **state)
{
	(void)state;
	uint8_t all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	assert_int_equal(crc16_xmodem(all, sizeof all), 0x7E55);
	/* streaming in two parts gives the same */
	uint16_t c = crc16_xmodem_update(0, all, 100);
	assert_int_equal(crc16_xmodem_update(c, all + 100, 156), 0x7E55);
}

static void zlib_check_value(void **state)
{
	(void)state;
	assert_int_equal(crc32_zlib("123456789", 9), 0xCBF43926u);
	assert_int_equal(crc32_zlib("", 0), 0);
}

static void stm32_crc_residue_is_zero(void **state)
{
	(void)state;
	/* CRC-32/MPEG-2 check value over "1234" "5678" as LE words differs from
	 * the byte-wise catalogue, so check the property the firmware relies on:
	 * appending the CRC word makes the residue 0. */
	uint8_t buf[16] = {0x12, 0x34, 0x56, 0x78, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4};
	uint32_t crc = crc32_stm32(buf, 12);
	buf[12] = (uint8_t)crc;
	buf[13] = (uint8_t)(crc >> 8);
	buf[14] = (uint8_t)(crc >> 16);
	buf[15] = (uint8_t)(crc >> 24);
	assert_int_equal(crc32_stm32(buf, 16), 0);
	/* STM32 CRC unit: one word 0x00000000 from reset gives 0xC704DD7B */
	uint8_t zero[4] = {0};
	assert_int_equal(crc32_stm32(zero, 4), 0xC704DD7Bu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(xmodem_check_value),
		cmocka_unit_test(xmodem_256_bytes),
		cmocka_unit_test(zlib_check_value),
		cmocka_unit_test(stm32_crc_residue_is_zero),
	};
	return cmocka_run_group_tests_name("crc", tests, NULL, NULL);
}
