#include "crc.h"

uint16_t crc16_xmodem_update(uint16_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int bit = 0; bit < 8; bit++)
			crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
	}
	return crc;
}

uint16_t crc16_xmodem(const void *data, size_t len)
{
	return crc16_xmodem_update(0, data, len);
}

static uint32_t crc32_stm32_word(uint32_t crc, uint32_t word)
{
	crc ^= word;
	for (int bit = 0; bit < 32; bit++)
		crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x04C11DB7u : crc << 1;
	return crc;
}

uint32_t crc32_stm32_update(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i + 4 <= len; i += 4) {
		uint32_t word = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 |
				(uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 24;
		crc = crc32_stm32_word(crc, word);
	}
	return crc;
}

uint32_t crc32_stm32(const void *data, size_t len)
{
	return crc32_stm32_update(CRC32_STM32_INIT, data, len);
}

/* Table built on first use would be global mutable state; a nibble table is
 * constant and fast enough for megabytes. */
static const uint32_t zlib_nibble[16] = {
	0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4,
	0x4DB26158, 0x5005713C, 0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C,
	0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
};

uint32_t crc32_zlib_update(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	crc = ~crc;
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		crc = (crc >> 4) ^ zlib_nibble[crc & 15];
		crc = (crc >> 4) ^ zlib_nibble[crc & 15];
	}
	return ~crc;
}

uint32_t crc32_zlib(const void *data, size_t len)
{
	return crc32_zlib_update(0, data, len);
}
