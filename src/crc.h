/* The three checksums the project meets:
 *  - CRC-16/XMODEM, the VESC packet CRC (and the staging header CRC);
 *  - the STM32 hardware CRC32 as the VESC firmware uses it to check itself
 *    (poly 0x04C11DB7, init 0xFFFFFFFF, little-endian 32-bit words fed MSB
 *    first, no reflection, no final XOR);
 *  - CRC-32/ISO-HDLC (zlib's), for backup manifests that other tools check. */
#ifndef VR_CRC_H
#define VR_CRC_H

#include <stddef.h>
#include <stdint.h>

uint16_t crc16_xmodem(const void *data, size_t len);
uint16_t crc16_xmodem_update(uint16_t crc, const void *data, size_t len);

#define CRC32_STM32_INIT 0xFFFFFFFFu
/* len must be a multiple of 4; words are read little-endian from data. */
uint32_t crc32_stm32_update(uint32_t crc, const void *data, size_t len);
uint32_t crc32_stm32(const void *data, size_t len);

uint32_t crc32_zlib_update(uint32_t crc, const void *data, size_t len);
uint32_t crc32_zlib(const void *data, size_t len);

#endif
