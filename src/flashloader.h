/* Our own STM32F4 flash loader: Thumb-2 code run in the target's SRAM to
 * program flash and to compute CRCs there. Source: src/flashloader.S; its
 * bytes are kept here as a C array (tests/test_flashloader.c assembles the
 * source and checks they match).
 *
 * SRAM layout while the loader is in use (SRAM1+2 are 128 KB contiguous at
 * 0x20000000; the CCM cannot hold code the M4 fetches on the D-bus only): */
#ifndef VR_FLASHLOADER_H
#define VR_FLASHLOADER_H

#include <stddef.h>
#include <stdint.h>

#define FL_LOAD_ADDR 0x20000000u
#define FL_STACK_TOP 0x20000400u  /* only for exception stacking if it faults */
#define FL_BUF_SIZE 0xC000u       /* two 48 KB buffers: one in flight, one filling */
#define FL_BUF_A 0x20000400u
#define FL_BUF_B (FL_BUF_A + FL_BUF_SIZE)

/* Entry offsets from FL_LOAD_ADDR (symbols fl_program, fl_crc_hw, fl_crc_sw).
 *  program: r0 src, r1 dst, r2 bytes -> r0 0 or SR with error bits,
 *           r1 failing address, r2 bytes left.
 *  crc_hw / crc_sw: r0 address, r1 bytes -> r0 STM32 CRC32. */
#define FL_ENTRY_PROGRAM 0x00u
#define FL_ENTRY_CRC_HW 0x3Au
#define FL_ENTRY_CRC_SW 0x56u

/* The loader's bytes, to be written at FL_LOAD_ADDR. */
const uint8_t *flashloader_code(size_t *len);

#endif
