#include "vesc_layout.h"

#include <stdio.h>
#include <string.h>

#include "crc.h"
#include "sha256.h"

#define FW_RESET_LO VESC_APP_BASE
#define FW_RESET_END (VESC_APP_BASE + VESC_APP_REGION_SIZE)
#define BL_RESET_LO VESC_BOOTLOADER_BASE
#define BL_RESET_END VESC_FLASH_END
#define ERASED_WORD 0xFFFFFFFFu

/* ---- sectors ------------------------------------------------------------- */
static const uint32_t sector_kb[VESC_NUM_SECTORS] = {16, 16, 16, 16, 64, 128, 128, 128, 128, 128, 128, 128};

uint32_t vesc_sector_size(unsigned sector)
{
	return sector < VESC_NUM_SECTORS ? sector_kb[sector] * 1024u : 0;
}

uint32_t vesc_sector_base(unsigned sector)
{
	if (sector >= VESC_NUM_SECTORS)
		return 0;
	uint32_t addr = VESC_FLASH_BASE;
	for (unsigned i = 0; i < sector; i++)
		addr += vesc_sector_size(i);
	return addr;
}

int vesc_sector_of(uint32_t addr)
{
	if (addr < VESC_FLASH_BASE || addr >= VESC_FLASH_END)
		return -1;
	for (unsigned i = 0; i < VESC_NUM_SECTORS; i++) {
		uint32_t base = vesc_sector_base(i);
		if (addr >= base && addr - base < vesc_sector_size(i))
			return (int)i;
	}
	return -1;
}

/* ---- helpers --------------------------------------------------------------- */
uint32_t vesc_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t vesc_used_length(const uint8_t *bytes, size_t len)
{
	while (len > 0 && bytes[len - 1] == 0xFF)
		len--;
	return len;
}

bool vesc_all_equal(const uint8_t *bytes, size_t len, uint8_t value)
{
	for (size_t i = 0; i < len; i++)
		if (bytes[i] != value)
			return false;
	return true;
}

/* A word of region at offset off; beyond len the flash is taken as erased. */
static uint32_t word_at(const uint8_t *region, size_t len, size_t off)
{
	if (off + 4 > len)
		return ERASED_WORD;
	return vesc_le32(region + off);
}

/* ---- vector table ------------------------------------------------------------ */
const char *vesc_role_name(enum vesc_role role)
{
	switch (role) {
	case VESC_ROLE_BLANK: return "blank";
	case VESC_ROLE_FIRMWARE: return "firmware";
	case VESC_ROLE_BOOTLOADER: return "bootloader";
	case VESC_ROLE_UNKNOWN: break;
	}
	return "unknown";
}

bool vesc_sp_valid(uint32_t sp)
{
	/* The initial SP is the top of a full-descending stack, so the
	 * region's end address itself is legal. The base is accepted too, as
	 * the shared rule states the range inclusively. */
	bool in_sram = sp >= VESC_SRAM_BASE && sp <= VESC_SRAM_TOP;
	bool in_ccm = sp >= VESC_CCM_BASE && sp <= VESC_CCM_TOP;
	return in_sram || in_ccm;
}

enum vesc_role vesc_role_of_vector(uint32_t sp, uint32_t reset)
{
	if (sp == ERASED_WORD && reset == ERASED_WORD)
		return VESC_ROLE_BLANK;
	if (!vesc_sp_valid(sp) || !(reset & 1u))
		return VESC_ROLE_UNKNOWN;
	if (reset >= FW_RESET_LO && reset < FW_RESET_END)
		return VESC_ROLE_FIRMWARE;
	if (reset >= BL_RESET_LO && reset < BL_RESET_END)
		return VESC_ROLE_BOOTLOADER;
	return VESC_ROLE_UNKNOWN;
}

void vesc_vector_read(const uint8_t *bytes, size_t len, struct vesc_vector *out)
{
	memset(out, 0, sizeof *out);
	if (bytes == NULL || len < 8) {
		out->role = VESC_ROLE_UNKNOWN;
		return;
	}
	out->sp = vesc_le32(bytes);
	out->reset = vesc_le32(bytes + 4);
	out->sp_ok = vesc_sp_valid(out->sp);
	out->reset_thumb = (out->reset & 1u) != 0;
	out->role = vesc_role_of_vector(out->sp, out->reset);
}

uint32_t vesc_role_address(enum vesc_role role)
{
	switch (role) {
	case VESC_ROLE_FIRMWARE: return VESC_APP_BASE;
	case VESC_ROLE_BOOTLOADER: return VESC_BOOTLOADER_BASE;
	case VESC_ROLE_BLANK:
	case VESC_ROLE_UNKNOWN: break;
	}
	return 0;
}

/* ---- placement -------------------------------------------------------------- */
static vr_err refuse_no_vector(const struct vesc_vector *v, enum vesc_role wanted,
			       uint32_t addr, struct vr_error *err)
{
	if (v->role == VESC_ROLE_BLANK)
		return vr_fail(err, VR_ERR_INPUT,
			       "no vector table at 0x%08X: the image starts with erased bytes (0xFF); "
			       "a VESC %s begins with its initial stack pointer and reset handler",
			       addr, wanted == VESC_ROLE_BOOTLOADER ? "bootloader" : "firmware");
	const char *what = wanted == VESC_ROLE_BOOTLOADER ? "bootloader" :
			   wanted == VESC_ROLE_FIRMWARE ? "firmware" : "firmware or bootloader";
	const char *range = wanted == VESC_ROLE_BOOTLOADER ? "0x080E0000-0x080FFFFF" :
			    wanted == VESC_ROLE_FIRMWARE ? "0x08000000-0x0807FFFF" :
			    "0x08000000-0x0807FFFF or 0x080E0000-0x080FFFFF";
	return vr_fail(err, VR_ERR_INPUT,
		       "not a VESC %s: initial SP 0x%08X (%s) and reset handler 0x%08X (%s); "
		       "expected an SP in SRAM/CCM and an odd reset address in %s",
		       what, v->sp, v->sp_ok ? "ok" : "not in SRAM/CCM", v->reset,
		       v->reset_thumb ? "outside the expected region" : "even, not Thumb code", range);
}

static vr_err refuse_wrong_role(const struct vesc_vector *v, enum vesc_role wanted,
				struct vr_error *err)
{
	if (wanted == VESC_ROLE_FIRMWARE)
		return vr_fail(err, VR_ERR_INPUT,
			       "this is a bootloader, not a firmware: its reset handler 0x%08X lies in "
			       "sector 11; give it as the bootloader (written at 0x080E0000)", v->reset);
	return vr_fail(err, VR_ERR_INPUT,
		       "this is a firmware, not a bootloader: its reset handler 0x%08X lies in the "
		       "application region; give it as the firmware (written at 0x08000000)", v->reset);
}

static int firmware_gen_for_size(uint32_t size)
{
	if (size == VESC_FW5_IMAGE_SIZE)
		return 5;
	if (size > VESC_FW5_IMAGE_SIZE && size <= VESC_FW6_IMAGE_SIZE)
		return 6;
	return 0;
}

static vr_err check_firmware_extent(const struct vesc_placement *p, struct vr_error *err)
{
	uint64_t end = (uint64_t)p->addr + p->size;
	if (end > VESC_BOOTLOADER_BASE)
		return vr_fail(err, VR_ERR_INPUT,
			       "firmware of %u bytes would reach sector 11 (ends at 0x%08llX, the "
			       "bootloader starts at 0x080E0000): refusing to overwrite the bootloader",
			       p->size, (unsigned long long)end);
	if (p->size > VESC_FW6_IMAGE_SIZE)
		return vr_fail(err, VR_ERR_INPUT,
			       "firmware of %u bytes is larger than 524,280 B (512 KB - 8), the limit "
			       "for FW 6.00 and later; FW 5.03 and earlier must fit 393,208 B "
			       "(384 KB - 8): this is not a VESC firmware image", p->size);
	return VR_OK;
}

static vr_err check_bootloader_extent(const struct vesc_placement *p, struct vr_error *err)
{
	if (p->size > VESC_BOOTLOADER_MAX)
		return vr_fail(err, VR_ERR_INPUT,
			       "bootloader of %u bytes is larger than sector 11 (128 KB = 131,072 B); "
			       "released VESC bootloaders are 3.7-5.8 KB", p->size);
	return VR_OK;
}

vr_err vesc_check_placement(const struct vesc_placement *p, enum vesc_role wanted,
			    struct vesc_placement_result *out, struct vr_error *err)
{
	struct vesc_placement_result local;
	if (out == NULL)
		out = &local;
	memset(out, 0, sizeof *out);
	vesc_vector_read(p->head, p->head_len, &out->vector);
	out->role = out->vector.role;
	if (p->size == 0)
		return vr_fail(err, VR_ERR_INPUT, "the image holds no bytes");
	bool is_code = out->role == VESC_ROLE_FIRMWARE || out->role == VESC_ROLE_BOOTLOADER;
	if (!is_code)
		return refuse_no_vector(&out->vector, wanted, p->addr, err);
	if (wanted != VESC_ROLE_UNKNOWN && out->role != wanted)
		return refuse_wrong_role(&out->vector, wanted, err);
	uint32_t linked_at = vesc_role_address(out->role);
	if (p->addr != linked_at)
		return vr_fail(err, VR_ERR_INPUT,
			       "its vector table says this %s belongs at 0x%08X (reset handler 0x%08X), "
			       "not at 0x%08X", vesc_role_name(out->role), linked_at, out->vector.reset,
			       p->addr);
	if (out->role == VESC_ROLE_FIRMWARE) {
		vr_err rc = check_firmware_extent(p, err);
		if (rc != VR_OK)
			return rc;
		out->fw_gen = firmware_gen_for_size(p->size);
		return VR_OK;
	}
	vr_err rc = check_bootloader_extent(p, err);
	if (rc != VR_OK)
		return rc;
	if ((uint64_t)p->addr + p->size > VESC_FLASH_END)
		return vr_fail(err, VR_ERR_INPUT,
			       "the image (0x%08X, %u bytes) does not fit the 1 MB flash "
			       "0x08000000-0x080FFFFF", p->addr, p->size);
	return VR_OK;
}

/* ---- application region -------------------------------------------------- */
static uint32_t crcinfo_offset(int gen)
{
	return (gen == 5 ? VESC_FW5_CRCINFO : VESC_FW6_CRCINFO) - VESC_APP_BASE;
}

/* Feeds [from, to) of region to the CRC; missing bytes count as erased. */
static uint32_t crc_range(uint32_t crc, const uint8_t *region, size_t len, size_t from, size_t to)
{
	size_t have_to = to < len ? to : len;
	if (from < have_to) {
		crc = crc32_stm32_update(crc, region + from, (have_to - from) & ~(size_t)3);
		from += (have_to - from) & ~(size_t)3;
	}
	for (size_t off = from; off + 4 <= to; off += 4) {
		uint32_t w = word_at(region, len, off);
		uint8_t le[4] = {(uint8_t)w, (uint8_t)(w >> 8), (uint8_t)(w >> 16), (uint8_t)(w >> 24)};
		crc = crc32_stm32_update(crc, le, 4);
	}
	return crc;
}

/* The firmware's check: sector 0, then 0x0800C000 up to (excluding)
 * end_off. With end_off past the CRC word a good image leaves 0. */
static uint32_t app_crc_over(const uint8_t *region, size_t len, size_t end_off)
{
	uint32_t crc = CRC32_STM32_INIT;
	crc = crc_range(crc, region, len, 0, VESC_CONFIG_BASE - VESC_APP_BASE);
	return crc_range(crc, region, len, VESC_APP2_BASE - VESC_APP_BASE, end_off);
}

bool vesc_app_crc(const uint8_t *region, size_t len, int gen, uint32_t *crc)
{
	if (gen != 5 && gen != 6)
		return false;
	size_t flag_off = crcinfo_offset(gen);
	if (len < flag_off + 8)
		return false;
	uint32_t value = CRC32_STM32_INIT;
	value = crc_range(value, region, len, 0, VESC_CONFIG_BASE - VESC_APP_BASE);
	value = crc_range(value, region, len, VESC_APP2_BASE - VESC_APP_BASE, flag_off);
	static const uint8_t zero_flag[4] = {0, 0, 0, 0};
	*crc = crc32_stm32_update(value, zero_flag, 4);
	return true;
}

static bool residue_ok(const uint8_t *region, size_t len, int gen)
{
	return app_crc_over(region, len, crcinfo_offset(gen) + 8) == 0;
}

struct crcinfo_words {
	uint32_t flag, crc;
};

static struct crcinfo_words crcinfo_at(const uint8_t *region, size_t len, int gen)
{
	size_t off = crcinfo_offset(gen);
	struct crcinfo_words w = {word_at(region, len, off), word_at(region, len, off + 4)};
	return w;
}

static bool words_erased(struct crcinfo_words w)
{
	return w.flag == ERASED_WORD && w.crc == ERASED_WORD;
}

static void set_booted(struct app_obs *app, int gen, bool crc_ok)
{
	app->fw_gen = gen;
	app->crcinfo = CRCINFO_BOOTED;
	app->crc_checked = true;
	app->crc_ok = crc_ok;
}

/* Never booted: no CRC to check, so the generation is a best guess from
 * where the content ends and what the configuration window holds. Content
 * past 5.x's crcinfo can only be 6.x; released 6.x images zero the window.
 * Otherwise (window erased, or kept configuration after a keep-config
 * write) 5.x is the guess: a 6.x image whose code ends below 384 KB written
 * around a kept configuration would be taken for 5.x. */
static int never_booted_gen(const uint8_t *region, size_t len)
{
	size_t used = vesc_used_length(region, len < VESC_APP_REGION_SIZE ? len : VESC_APP_REGION_SIZE);
	if (used > crcinfo_offset(5) + 8)
		return 6;
	switch (vesc_config_window(region, len)) {
	case VESC_CONFIG_ALL_00: return 6;
	case VESC_CONFIG_ALL_FF:
	case VESC_CONFIG_DATA: return 5;
	case VESC_CONFIG_NOT_COVERED: break;
	}
	return 0;
}

static void judge_crcinfo(const uint8_t *region, size_t len, struct app_obs *app)
{
	struct crcinfo_words w6 = crcinfo_at(region, len, 6);
	struct crcinfo_words w5 = crcinfo_at(region, len, 5);
	bool ok6 = w6.flag == 0 && residue_ok(region, len, 6);
	bool ok5 = w5.flag == 0 && residue_ok(region, len, 5);
	size_t used = vesc_used_length(region, len < VESC_APP_REGION_SIZE ? len : VESC_APP_REGION_SIZE);
	bool past_fw5_end = used > crcinfo_offset(5) + 8;
	/* A residue of 0 by chance has odds 2^-32, so a match settles the
	 * generation even when the other crcinfo slot holds code or QML data. */
	if (ok6) {
		set_booted(app, 6, true);
	} else if (ok5) {
		set_booted(app, 5, true);
	} else if (w6.flag == 0) {
		set_booted(app, 6, false);
	} else if (words_erased(w6) && past_fw5_end) {
		/* 6.x code can hold a zero word where 5.x keeps its flag: content
		 * past 384 KB says 6.x, never booted. */
		app->crcinfo = CRCINFO_NEVER_BOOTED;
		app->fw_gen = 6;
	} else if (w5.flag == 0) {
		/* 5.x booted (its sector 7 may hold QML where 6.x has crcinfo) */
		set_booted(app, 5, false);
	} else if (words_erased(w6) && words_erased(w5)) {
		app->crcinfo = CRCINFO_NEVER_BOOTED;
		app->fw_gen = never_booted_gen(region, len);
	} else {
		app->crcinfo = CRCINFO_GARBAGE;
		app->fw_gen = words_erased(w6) ? 5 : 6;
	}
}

void vesc_check_app(const uint8_t *region, size_t len, struct app_obs *app)
{
	memset(app, 0, sizeof *app);
	if (len > VESC_APP_REGION_SIZE)
		len = VESC_APP_REGION_SIZE;
	size_t used = region ? vesc_used_length(region, len) : 0;
	app->image_end = used ? VESC_APP_BASE + (uint32_t)used : 0;
	if (used == 0) {
		app->crcinfo = CRCINFO_UNKNOWN;
		return;
	}
	struct vesc_vector v;
	vesc_vector_read(region, len, &v);
	app->sp = v.sp;
	app->reset = v.reset;
	app->vector_valid = v.role == VESC_ROLE_FIRMWARE;
	judge_crcinfo(region, len, app);
}

static const char *crcinfo_text(enum crcinfo_state s)
{
	switch (s) {
	case CRCINFO_NEVER_BOOTED: return "never booted since programming (crcinfo erased)";
	case CRCINFO_BOOTED: return "booted";
	case CRCINFO_GARBAGE: return "crcinfo words hold neither the erased nor the booted pattern";
	case CRCINFO_UNKNOWN: break;
	}
	return "crcinfo unknown";
}

void vesc_describe_app(const struct app_obs *app, char *out, size_t cap)
{
	if (cap == 0)
		return;
	if (app->image_end == 0) {
		snprintf(out, cap, "blank (all 0xFF)");
		return;
	}
	const char *gen = app->fw_gen == 6 ? " (6.00+ layout)" :
			  app->fw_gen == 5 ? " (5.03-or-older layout)" : "";
	if (!app->vector_valid) {
		snprintf(out, cap, "no valid firmware vector table (SP 0x%08X, reset 0x%08X)%s",
			 app->sp, app->reset, app->crcinfo == CRCINFO_BOOTED && !app->crc_ok ?
			 ", CRC check fails" : "");
		return;
	}
	const char *crc = !app->crc_checked ? "" : app->crc_ok ? ", CRC ok" :
			  ", CRC check FAILS (the firmware will not start: red blinking, no USB)";
	snprintf(out, cap, "firmware%s, %s%s", gen, crcinfo_text(app->crcinfo), crc);
}

enum vesc_config_fill vesc_config_window(const uint8_t *region, size_t len)
{
	size_t from = VESC_CONFIG_BASE - VESC_APP_BASE;
	if (region == NULL || len < from + VESC_CONFIG_SIZE)
		return VESC_CONFIG_NOT_COVERED;
	if (vesc_all_equal(region + from, VESC_CONFIG_SIZE, 0x00))
		return VESC_CONFIG_ALL_00;
	if (vesc_all_equal(region + from, VESC_CONFIG_SIZE, 0xFF))
		return VESC_CONFIG_ALL_FF;
	return VESC_CONFIG_DATA;
}

const char *vesc_config_fill_name(enum vesc_config_fill fill)
{
	switch (fill) {
	case VESC_CONFIG_ALL_00: return "zeros (released 6.x/7.x image: config back to defaults)";
	case VESC_CONFIG_ALL_FF: return "erased (0xFF)";
	case VESC_CONFIG_DATA: return "data";
	case VESC_CONFIG_NOT_COVERED: break;
	}
	return "not covered";
}

/* ---- staging --------------------------------------------------------------- */
void vesc_check_staging(const uint8_t *staging, size_t len, struct staging_obs *out)
{
	memset(out, 0, sizeof *out);
	if (staging == NULL || len < VESC_STAGING_HEADER)
		return;
	uint32_t raw = be32(staging);
	out->compressed = (raw >> 24) == 0xCC;
	out->size = out->compressed ? raw & 0x00FFFFFFu : raw;
	/* The bootloader refuses size 0 and sizes above NEW_APP_MAX_SIZE
	 * before erasing anything (§4.5); those are not pending updates. */
	if (raw == ERASED_WORD || out->size == 0 || out->size > VESC_STAGING_MAX_DATA)
		return;
	out->pending = true;
	if (out->size > len - VESC_STAGING_HEADER)
		return;
	uint16_t stored = (uint16_t)(staging[4] << 8 | staging[5]);
	out->crc_ok = crc16_xmodem(staging + VESC_STAGING_HEADER, out->size) == stored;
}

/* ---- bootloaders ----------------------------------------------------------- */
/* Sizes, hashes and vectors: reference §4.7, each re-derived from the
 * vesc_tool git history (res/bootloaders at the commits named). */
static const struct vesc_known_bootloader known_bootloaders[] = {
	{"generic.bin", "vesc_tool 32bde67e (2022-12)", 5280,
	 {0x91, 0xd4, 0xe2, 0xe0, 0x95, 0x94, 0xb4, 0x22}, 0x20000800, 0x080E04F1, BL_KIND_GENERIC},
	{"40_o_47_o_48_o_410_o_411_o_412_o_DAS_RS.bin", "vesc_tool 32bde67e (2022-12)", 5776,
	 {0x33, 0x9a, 0x99, 0x76, 0x17, 0x6a, 0xf1, 0x4c}, 0x20000800, 0x080E0551, BL_KIND_HW40},
	{"60_o_75_300_o_HD60_o_..._o_HD75.bin", "vesc_tool 32bde67e (2022-12)", 5776,
	 {0xd2, 0xc0, 0x14, 0xd3, 0xb5, 0xfa, 0xf8, 0x43}, 0x20000800, 0x080E0551, BL_KIND_HW60},
	{"generic.bin", "vesc_tool fb861792 (2022-01, first with compression)", 5248,
	 {0x0d, 0x1a, 0x53, 0x34, 0x46, 0x02, 0x0d, 0xde}, 0x20000800, 0x080E04D1, BL_KIND_GENERIC},
	{"40_o_47_o_48_o_410_o_411_o_412_o_DAS_RS.bin", "vesc_tool fb861792 (2022-01)", 5728,
	 {0xcf, 0x2b, 0xa3, 0xb8, 0x32, 0x16, 0x01, 0x30}, 0x20000800, 0x080E0521, BL_KIND_HW40},
	{"60_o_75_300_o_HD60_o_..._o_HD75.bin", "vesc_tool fb861792 (2022-01)", 5744,
	 {0x8b, 0x12, 0x52, 0x73, 0x72, 0x82, 0x68, 0x19}, 0x20000800, 0x080E0531, BL_KIND_HW60},
	{"generic.bin (old, no compression)", "vesc_tool before fb861792", 3792,
	 {0xa9, 0x1d, 0xe2, 0x01, 0x4f, 0x55, 0xf9, 0xa7}, 0x20000800, 0x080E02C1, BL_KIND_OLD},
	{"40_o_..._o_DAS_RS.bin (old HW40, no compression)", "vesc_tool before fb861792", 4272,
	 {0xb4, 0x58, 0xdf, 0x38, 0x6b, 0x4a, 0xd5, 0x08}, 0x20000800, 0x080E0321, BL_KIND_OLD},
	{"60_o_..._o_HD75.bin (old HW60, no compression)", "vesc_tool before fb861792", 4288,
	 {0x8e, 0x96, 0xdc, 0x84, 0x8a, 0x9e, 0x3c, 0x28}, 0x20000800, 0x080E0321, BL_KIND_OLD},
	{"60_o_75_300.bin (old HW60, no compression)", "vesc_tool 61908a5d (2019)", 4256,
	 {0x80, 0x5b, 0x3d, 0xd5, 0xfd, 0x03, 0xd6, 0x60}, 0x20000800, 0x080E0311, BL_KIND_OLD},
	{"generic.bin (first generic, no compression)", "vesc_tool 41799faa (2018)", 3808,
	 {0xc9, 0x4b, 0x9d, 0xad, 0x25, 0x42, 0x09, 0x6d}, 0x20000800, 0x080E02C1, BL_KIND_OLD},
};

#define N_KNOWN_BOOTLOADERS (sizeof known_bootloaders / sizeof known_bootloaders[0])

const struct vesc_known_bootloader *vesc_known_bootloaders(size_t *count)
{
	*count = N_KNOWN_BOOTLOADERS;
	return known_bootloaders;
}

const struct vesc_known_bootloader *vesc_match_bootloader_in(const struct vesc_known_bootloader *table,
							     size_t count, const uint8_t *data, size_t len)
{
	if (table == NULL || data == NULL || len < 8)
		return NULL;
	uint32_t word0 = vesc_le32(data), word1 = vesc_le32(data + 4);
	for (size_t i = 0; i < count; i++) {
		const struct vesc_known_bootloader *k = &table[i];
		if (k->word0 != word0 || k->word1 != word1 || len < k->size)
			continue;
		if (!vesc_all_equal(data + k->size, len - k->size, 0xFF))
			continue;
		uint8_t digest[SHA256_DIGEST_LEN];
		sha256(data, k->size, digest);
		if (memcmp(digest, k->sha256_prefix, sizeof k->sha256_prefix) == 0)
			return k;
	}
	return NULL;
}

const struct vesc_known_bootloader *vesc_match_bootloader(const uint8_t *data, size_t len)
{
	return vesc_match_bootloader_in(known_bootloaders, N_KNOWN_BOOTLOADERS, data, len);
}

/* The kind a vector shape implies, when every released build with that
 * reset vector shares it (HW40 and HW60 share theirs: unknown). */
static enum bl_kind kind_from_shape(uint32_t word0, uint32_t word1)
{
	enum bl_kind kind = BL_KIND_UNKNOWN;
	bool seen = false;
	for (size_t i = 0; i < N_KNOWN_BOOTLOADERS; i++) {
		const struct vesc_known_bootloader *k = &known_bootloaders[i];
		if (k->word0 != word0 || k->word1 != word1)
			continue;
		if (seen && k->kind != kind)
			return BL_KIND_UNKNOWN;
		kind = k->kind;
		seen = true;
	}
	return kind;
}

void vesc_check_bootloader(const uint8_t *data, size_t len, struct bootloader_obs *out)
{
	memset(out, 0, sizeof *out);
	size_t used = data ? vesc_used_length(data, len) : 0;
	out->size_guess = (uint32_t)used;
	if (used == 0) {
		out->blank = true;
		return;
	}
	struct vesc_vector v;
	vesc_vector_read(data, len, &v);
	out->sp = v.sp;
	out->reset = v.reset;
	const struct vesc_known_bootloader *k = vesc_match_bootloader(data, len);
	if (k != NULL) {
		out->present = true;
		out->hash_known = true;
		out->kind = k->kind;
		return;
	}
	if (v.role != VESC_ROLE_BOOTLOADER)
		return;
	out->present = true;
	out->kind = kind_from_shape(v.sp, v.reset);
}

static bool shape_is_known(uint32_t word0, uint32_t word1)
{
	for (size_t i = 0; i < N_KNOWN_BOOTLOADERS; i++)
		if (known_bootloaders[i].word0 == word0 && known_bootloaders[i].word1 == word1)
			return true;
	return false;
}

void vesc_describe_bootloader(const struct bootloader_obs *bl, char *out, size_t cap)
{
	if (cap == 0)
		return;
	if (bl->blank) {
		snprintf(out, cap, "blank (all 0xFF): no bootloader");
		return;
	}
	if (!bl->present) {
		snprintf(out, cap, "not a VESC bootloader (%u bytes of data; SP 0x%08X, reset 0x%08X)",
			 bl->size_guess, bl->sp, bl->reset);
		return;
	}
	const char *kind = bl_kind_name(bl->kind);
	const char *fw6 = bl->kind == BL_KIND_OLD ? "; too old for FW 6.00+ (no compression support)" : "";
	if (bl->hash_known) {
		snprintf(out, cap, "%s bootloader, released build (%u bytes)%s", kind, bl->size_guess, fw6);
		return;
	}
	if (shape_is_known(bl->sp, bl->reset)) {
		snprintf(out, cap, "VESC bootloader shape, unknown build (%s shape, about %u bytes, "
			 "reset 0x%08X)%s", bl->kind == BL_KIND_UNKNOWN ? "HW40/HW60" : kind,
			 bl->size_guess, bl->reset, fw6);
		return;
	}
	snprintf(out, cap, "bootloader-like vector table, not a known VESC build "
		 "(SP 0x%08X, reset 0x%08X, about %u bytes)", bl->sp, bl->reset, bl->size_guess);
}

enum sector_state vesc_classify_sector(unsigned sector, const uint8_t *data, size_t len,
				       const struct app_obs *app)
{
	if (sector >= VESC_NUM_SECTORS || data == NULL)
		return SECTOR_UNKNOWN;
	if (vesc_all_equal(data, len, 0xFF))
		return SECTOR_BLANK;
	if (sector == 1 || sector == 2)
		return SECTOR_CONFIG;
	if (sector >= 8 && sector <= 10)
		return SECTOR_STAGING;
	if (sector == 11) {
		struct bootloader_obs bl;
		vesc_check_bootloader(data, len, &bl);
		return bl.present ? SECTOR_BOOTLOADER : SECTOR_DATA;
	}
	/* 0, 3-7: code of the app, or (5.x sector 7 QML, leftovers) data */
	bool app_ok = app != NULL && app->vector_valid;
	uint32_t app_end = app_ok ? app->image_end : 0;
	if (app_ok && app->fw_gen == 5 && app_end > VESC_FW5_CRCINFO + 8)
		app_end = VESC_FW5_CRCINFO + 8;   /* 5.x ends there; sector 7 is its QML */
	if (app_ok && vesc_sector_base(sector) < app_end)
		return SECTOR_APP;
	return SECTOR_DATA;
}

bool vesc_bootloader_supports_fw6(enum bl_kind kind)
{
	return kind == BL_KIND_GENERIC || kind == BL_KIND_HW40 || kind == BL_KIND_HW60;
}
