/* Deterministic synthetic VESC images for the bench and the tests: we ship
 * no real VESC binaries. They have the shapes the reference describes
 * (vesc-protocol-and-flash.md §4.2, §4.7) but are not real builds: their
 * hashes match no released file.
 *
 * Depends only on crc.h and libc (also built into the -fPIC facade). */
#ifndef VR_BENCH_SYNTH_H
#define VR_BENCH_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "observe.h"   /* enum bl_kind only */

#define SYNTH_FW6_SIZE 524280u   /* FW >= 6.00: crcinfo at 0x0807FFF0 */
#define SYNTH_FW5_SIZE 393208u   /* FW <= 5.03: crcinfo at 0x0805FFF0 */
#define SYNTH_FW_SP 0x2001FF00u  /* initial SP of every synthetic firmware */

/* The size synth_firmware makes for this version. */
size_t synth_firmware_size(int major);

/* Writes a firmware image "for" major.minor into buf: a valid vector table
 * (SP 0x2001FF00, odd handlers inside the app), pseudo-random code with
 * 0xFF gaps, the configuration window 0x00 (6.x) or 0xFF (<= 5.x), a
 * version marker, crcinfo erased (never booted). Same arguments, same
 * bytes. Returns the size (524,280 or 393,208), or 0 if cap is too small. */
size_t synth_firmware(uint8_t *buf, size_t cap, int major, int minor, uint32_t seed);

/* What the firmware does on its first boot: flag word 0, then the STM32
 * CRC32 over sector 0 and 0x0800C000..flag into the CRC word, so the
 * residue over the app is 0. app holds the bytes from 0x08000000 (an image
 * or the 512 KB region); gen 6 or 5 says where crcinfo lies. Returns false
 * when len does not reach it. */
bool synth_mark_booted(uint8_t *app, size_t len, int gen);

/* Reads back the version marker synth_firmware wrote (major, minor),
 * false if app holds none (blank, corrupted marker, a real image). */
bool synth_firmware_version(const uint8_t *app, size_t len, int *major, int *minor);

/* A bootloader shaped like a released one of this kind: word0 0x20000800,
 * word1 the kind's reset vector, the released size (generic 5280,
 * hw40/hw60 5776, old 3792). Not the real file: classifiers must report
 * "VESC bootloader shape, unknown build". Returns the size, 0 if cap is too
 * small or kind is BL_KIND_UNKNOWN. */
size_t synth_bootloader_size(enum bl_kind kind);
size_t synth_bootloader(uint8_t *buf, size_t cap, enum bl_kind kind);

#endif
