/* The VESC flash layout on an STM32F405 (reference vesc-protocol-and-flash.md
 * §4.1-4.3, §4.7; CONTRACTS.md §5) as pure classifiers over bytes: no I/O,
 * no allocation. Used by the image checks (a file about to be written) and
 * by the SWD survey (sector contents read from the chip).
 *
 * Buffers are always "the bytes at address X": offsets inside them are
 * addresses minus X. Words are little-endian as the Cortex-M4 reads them. */
#ifndef VR_VESC_LAYOUT_H
#define VR_VESC_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "observe.h"

/* ---- the map ------------------------------------------------------------ */
#define VESC_FLASH_BASE 0x08000000u
#define VESC_FLASH_SIZE (1024u * 1024u)
#define VESC_FLASH_END (VESC_FLASH_BASE + VESC_FLASH_SIZE)
#define VESC_NUM_SECTORS 12u

#define VESC_APP_BASE 0x08000000u
#define VESC_APP_REGION_SIZE (512u * 1024u)          /* sectors 0-7 */
#define VESC_CONFIG_BASE 0x08004000u                 /* sectors 1-2: EEPROM emulation */
#define VESC_CONFIG_SIZE (32u * 1024u)
#define VESC_APP2_BASE 0x0800C000u                   /* the app resumes after the config */
#define VESC_STAGING_BASE 0x08080000u                /* sectors 8-10 */
#define VESC_STAGING_SIZE (384u * 1024u)
#define VESC_BOOTLOADER_BASE 0x080E0000u             /* sector 11 */
#define VESC_BOOTLOADER_MAX (128u * 1024u)

/* Release image sizes = APP_MAX_SIZE: 512K - 8 (FW >= 6.00), 384K - 8 (<= 5.03). */
#define VESC_FW6_IMAGE_SIZE 524280u
#define VESC_FW5_IMAGE_SIZE 393208u
/* crcinfo (flag word, CRC word) sits in the last 8 bytes of each. */
#define VESC_FW6_CRCINFO 0x0807FFF0u
#define VESC_FW5_CRCINFO 0x0805FFF0u

/* Vector table validity (§4.2, §4.7). */
#define VESC_SRAM_BASE 0x20000000u
#define VESC_SRAM_TOP 0x20020000u                   /* 128 KB; the top itself is a valid SP */
#define VESC_CCM_BASE 0x10000000u
#define VESC_CCM_TOP 0x10010000u                    /* 64 KB */

/* Sector index of a flash address, -1 outside the 1 MB flash. */
int vesc_sector_of(uint32_t addr);
uint32_t vesc_sector_base(unsigned sector);  /* 0 for an index >= 12 */
uint32_t vesc_sector_size(unsigned sector);  /* 0 for an index >= 12 */

/* ---- vector table and role ------------------------------------------------ */
enum vesc_role {
	VESC_ROLE_UNKNOWN = 0,    /* no vector table a VESC image would have */
	VESC_ROLE_BLANK,          /* the first 8 bytes are 0xFF (erased flash) */
	VESC_ROLE_FIRMWARE,       /* SP in SRAM/CCM, reset odd in 0x08000000-0x0807FFFF */
	VESC_ROLE_BOOTLOADER,     /* SP in SRAM/CCM, reset odd in 0x080E0000-0x080FFFFF */
};

/* "firmware", "bootloader", "blank", "unknown" (also the JSON names). */
const char *vesc_role_name(enum vesc_role role);

struct vesc_vector {
	uint32_t sp, reset;
	bool sp_ok;               /* inside SRAM or CCM (top allowed) */
	bool reset_thumb;         /* bit 0 set: a Thumb address, as every M4 reset vector */
	enum vesc_role role;
};

/* Reads and judges the first two words of bytes. len < 8 gives ROLE_UNKNOWN. */
void vesc_vector_read(const uint8_t *bytes, size_t len, struct vesc_vector *out);
bool vesc_sp_valid(uint32_t sp);
enum vesc_role vesc_role_of_vector(uint32_t sp, uint32_t reset);
/* Where an image of this role must be written (0 for blank/unknown). */
uint32_t vesc_role_address(enum vesc_role role);

/* ---- placement: may these bytes be written there as this role? ------------ */
struct vesc_placement {
	uint32_t addr;            /* where the person wants it written */
	uint32_t size;            /* span: last address + 1 - addr */
	const uint8_t *head;      /* the bytes at addr (the vector table), may be NULL */
	size_t head_len;
};

struct vesc_placement_result {
	struct vesc_vector vector;
	enum vesc_role role;      /* what the vector table says */
	int fw_gen;               /* firmware: 6 (fits 524,280 B), 5 (fits 393,208 B), 0 */
};

/* wanted: VESC_ROLE_FIRMWARE or VESC_ROLE_BOOTLOADER, or VESC_ROLE_UNKNOWN
 * for "whatever the vector table says" (then it must say firmware or
 * bootloader). Refuses, with VR_ERR_INPUT and a message naming the case:
 * a bootloader given as firmware and the reverse; an image whose vector
 * table belongs elsewhere than addr; a firmware reaching sector 11; a
 * bootloader over 128 KB; a firmware over 512 KB - 8 (naming which
 * generation fits which limit); no vector table at all. */
vr_err vesc_check_placement(const struct vesc_placement *p, enum vesc_role wanted,
			    struct vesc_placement_result *out, struct vr_error *err);

/* ---- application region (0x08000000, 512 KB) ---------------------------- */
/* Fills app (src/observe.h): vector, generation by crcinfo location,
 * crcinfo state, the STM32 CRC32 residue (sector 0 + 0x0800C000 up to and
 * including the CRC word must give 0), image_end. region holds the bytes
 * from 0x08000000; len may be shorter than 512 KB (a 393,208-byte image),
 * then what lies beyond is taken as erased. */
void vesc_check_app(const uint8_t *region, size_t len, struct app_obs *app);

/* One line for the person: "firmware (6.00+ layout), booted, CRC ok". */
void vesc_describe_app(const struct app_obs *app, char *out, size_t cap);

/* The STM32 CRC the firmware stores at first boot for generation gen
 * (6 or 5) over region (flag word taken as 0, as the firmware writes it
 * first). Returns false when len does not reach the crcinfo. */
bool vesc_app_crc(const uint8_t *region, size_t len, int gen, uint32_t *crc);

/* Configuration window 0x08004000-0x0800BFFF as found in an image or on
 * the chip: released 6.x/7.x images hold 0x00 there, 5.03 images 0xFF. */
enum vesc_config_fill {
	VESC_CONFIG_NOT_COVERED = 0, /* the bytes do not reach the window */
	VESC_CONFIG_ALL_00,
	VESC_CONFIG_ALL_FF,
	VESC_CONFIG_DATA,            /* anything else: real EEPROM pages, or code */
};
enum vesc_config_fill vesc_config_window(const uint8_t *region, size_t len);
const char *vesc_config_fill_name(enum vesc_config_fill fill);

/* ---- staging area (0x08080000) ------------------------------------------ */
/* Header: u32 BE size (top byte 0xCC = heatshrink-compressed, size in the
 * low 24 bits), u16 BE CRC-16/XMODEM over the size bytes that follow. */
#define VESC_STAGING_HEADER 6u
#define VESC_STAGING_MAX_DATA 393216u   /* the bootloader's NEW_APP_MAX_SIZE */
void vesc_check_staging(const uint8_t *staging, size_t len, struct staging_obs *out);

/* ---- bootloader (sector 11) ---------------------------------------------- */
struct vesc_known_bootloader {
	const char *name;         /* the file name in VESC Tool's res/bootloaders */
	const char *build;        /* which vesc_tool commit shipped it */
	uint32_t size;
	uint8_t sha256_prefix[8];
	uint32_t word0, word1;
	enum bl_kind kind;
};

/* The table of released builds (reference §4.7, checked against the
 * vesc_tool git history). *count gets the number of entries. */
const struct vesc_known_bootloader *vesc_known_bootloaders(size_t *count);

/* The released build whose size and SHA-256 match data exactly, else NULL.
 * Trailing 0xFF beyond a known size are ignored (a whole sector read back). */
const struct vesc_known_bootloader *vesc_match_bootloader(const uint8_t *data, size_t len);
/* The same against another table (tests; a future table from a file). */
const struct vesc_known_bootloader *vesc_match_bootloader_in(const struct vesc_known_bootloader *table,
							     size_t count, const uint8_t *data, size_t len);

/* Judges sector 11's contents (or a bootloader file): blank, a known
 * build, a VESC-bootloader shape of unknown build (kind from the reset
 * vector when it tells one, else unknown), or unknown data (present false,
 * blank false). */
void vesc_check_bootloader(const uint8_t *data, size_t len, struct bootloader_obs *out);

/* "generic bootloader (vesc_tool 32bde67e, 5280 B)" or "VESC bootloader
 * shape, unknown build (...)" or "blank" or "not a VESC bootloader". */
void vesc_describe_bootloader(const struct bootloader_obs *bl, char *out, size_t cap);

/* Whether a bootloader of this kind can install FW >= 6.00 (compressed
 * staging images): false for BL_KIND_OLD, true for generic/hw40/hw60. */
bool vesc_bootloader_supports_fw6(enum bl_kind kind);

/* ---- whole sectors (the SWD survey) ------------------------------------- */
/* What a sector's contents are, by the layout (CONTRACTS.md §4 names):
 * blank (all 0xFF); sectors 0, 3-7: app when app (the judged app region,
 * may be NULL) has a valid vector table and the sector starts below its
 * image_end, else data; 1-2: config; 8-10: staging (also Lisp/QML data on
 * 6.06+: not an error); 11: bootloader when it looks like one, else data
 * (FW 7.x package NVM shares the sector). */
enum sector_state vesc_classify_sector(unsigned sector, const uint8_t *data, size_t len,
				       const struct app_obs *app);

/* ---- small helpers --------------------------------------------------------- */
uint32_t vesc_le32(const uint8_t *p);
/* Index of the last byte that is not 0xFF, plus one; 0 when all blank. */
size_t vesc_used_length(const uint8_t *bytes, size_t len);
bool vesc_all_equal(const uint8_t *bytes, size_t len, uint8_t value);

#endif
