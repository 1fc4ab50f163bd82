/* Our flash loader (src/flashloader.S):
 *  - the C array matches what arm-none-eabi-as makes of the source, and the
 *    entry offsets in flashloader.h match its symbols;
 *  - run on a bare Cortex-M4 (unicorn) against a minimal FLASH/CRC
 *    peripheral written here from RM0090 (not the bench's model), it
 *    programs words, skips 0xFFFFFFFF words, stops on SR errors with the
 *    failing address, and both CRC entries give the STM32 CRC32. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <unicorn/unicorn.h>

#include "crc.h"
#include "flashloader.h"

/* ---- source vs bytes ------------------------------------------------- */
static int run_cmd(const char *cmd)
{
	int rc = system(cmd);
	return rc;
}

static const char *source_path(void)
{
	static const char *candidates[] = {"src/flashloader.S", "../src/flashloader.S"};
	for (size_t i = 0; i < 2; i++)
		if (access(candidates[i], R_OK) == 0)
			return candidates[i];
	return NULL;
}

static unsigned symbol_offset(const char *dir, const char *sym)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "arm-none-eabi-nm %s/fl.o > %s/nm.txt", dir, dir);
	assert_int_equal(run_cmd(cmd), 0);
	char path[300];
	snprintf(path, sizeof path, "%s/nm.txt", dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[200];
	unsigned found = 0xFFFFFFFFu;
	while (fgets(line, sizeof line, f)) {
		unsigned addr;
		char type, name[100];
		if (sscanf(line, "%x %c %99s", &addr, &type, name) == 3 && strcmp(name, sym) == 0)
			found = addr;
	}
	fclose(f);
	return found;
}

static void bytes_match_source(void **state)
{
	(void)state;
	if (run_cmd("command -v arm-none-eabi-as >/dev/null 2>&1 && "
		    "command -v arm-none-eabi-objcopy >/dev/null 2>&1") != 0)
		skip();  /* binutils-arm-none-eabi missing: tests/deps.sh installs it */
	const char *src = source_path();
	assert_non_null(src);
	char dir[] = "/tmp/vr-flashloader-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "arm-none-eabi-as -mcpu=cortex-m4 -mthumb %s -o %s/fl.o && "
		 "arm-none-eabi-objcopy -O binary %s/fl.o %s/fl.bin", src, dir, dir, dir);
	assert_int_equal(run_cmd(cmd), 0);
	char path[300];
	snprintf(path, sizeof path, "%s/fl.bin", dir);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	uint8_t assembled[1024];
	size_t n = fread(assembled, 1, sizeof assembled, f);
	fclose(f);
	size_t len;
	const uint8_t *code = flashloader_code(&len);
	assert_int_equal(n, len);
	assert_memory_equal(assembled, code, len);
	assert_int_equal(symbol_offset(dir, "fl_program"), FL_ENTRY_PROGRAM);
	assert_int_equal(symbol_offset(dir, "fl_crc_hw"), FL_ENTRY_CRC_HW);
	assert_int_equal(symbol_offset(dir, "fl_crc_sw"), FL_ENTRY_CRC_SW);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(run_cmd(cmd), 0);
}

static void layout_fits_sram(void **state)
{
	(void)state;
	size_t len;
	(void)flashloader_code(&len);
	assert_true(FL_LOAD_ADDR + len <= FL_STACK_TOP);
	assert_true(FL_STACK_TOP <= FL_BUF_A);
	assert_true(FL_BUF_B >= FL_BUF_A + FL_BUF_SIZE);
	assert_true(FL_BUF_B + FL_BUF_SIZE <= 0x20020000u);
}

/* ---- a bare core with a tiny flash controller ---------------------------- */
#define T_FLASH 0x08000000u
#define T_FLASH_SIZE 0x10000u
#define T_PERIPH 0x40023000u

struct rig {
	uc_engine *uc;
	uint8_t flash[T_FLASH_SIZE];
	uint32_t cr, sr;
	uint32_t crc;               /* CRC unit DR */
	unsigned words_programmed;
	uint32_t fail_at;           /* a program at this address sets WRPERR */
	unsigned bad_stores;        /* stores to flash without PG|PSIZE x32 */
};

static uint64_t periph_read(uc_engine *uc, uint64_t off, unsigned size, void *user)
{
	struct rig *r = user;
	if (off == 0x000)
		return r->crc;
	if (off == 0xC0C)
		return r->sr;
	if (off == 0xC10)
		return r->cr;
	return 0;
}

static void periph_write(uc_engine *uc, uint64_t off, unsigned size, uint64_t value, void *user)
{
	struct rig *r = user;
	uint32_t v = (uint32_t)value;
	if (off == 0x000) {
		uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
		r->crc = crc32_stm32_update(r->crc, le, 4);
	} else if (off == 0x008 && (v & 1u)) {
		r->crc = CRC32_STM32_INIT;
	} else if (off == 0xC10) {
		r->cr = v;
	}
}

static uint64_t flash_read(uc_engine *uc, uint64_t off, unsigned size, void *user)
{
	struct rig *r = user;
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)r->flash[off + i] << (8 * i);
	return v;
}

static void flash_write(uc_engine *uc, uint64_t off, unsigned size, uint64_t value, void *user)
{
	struct rig *r = user;
	if (size != 4 || (r->cr & 0x301u) != 0x201u) {
		r->bad_stores++;
		r->sr |= 0x80u;  /* PGSERR */
		return;
	}
	if (T_FLASH + off == r->fail_at) {
		r->sr |= 0x10u;  /* WRPERR */
		return;
	}
	for (unsigned i = 0; i < 4; i++)
		r->flash[off + i] &= (uint8_t)(value >> (8 * i));  /* only 1 -> 0 */
	r->words_programmed++;
}

static void on_intr(uc_engine *uc, uint32_t intno, void *user)
{
	uc_emu_stop(uc);  /* the BKPT at the end of every entry */
}

static struct rig *rig_new(void)
{
	struct rig *r = calloc(1, sizeof *r);
	assert_non_null(r);
	memset(r->flash, 0xFF, sizeof r->flash);
	r->crc = CRC32_STM32_INIT;
	r->fail_at = 0xFFFFFFFFu;
	assert_int_equal(uc_open(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS, &r->uc), UC_ERR_OK);
	assert_int_equal(uc_ctl_set_cpu_model(r->uc, UC_CPU_ARM_CORTEX_M4), UC_ERR_OK);
	assert_int_equal(uc_mem_map(r->uc, 0x20000000u, 0x20000u, UC_PROT_ALL), UC_ERR_OK);
	assert_int_equal(uc_mmio_map(r->uc, T_FLASH, T_FLASH_SIZE, flash_read, r, flash_write, r),
			 UC_ERR_OK);
	assert_int_equal(uc_mmio_map(r->uc, T_PERIPH, 0x1000, periph_read, r, periph_write, r),
			 UC_ERR_OK);
	uc_hook h;
	assert_int_equal(uc_hook_add(r->uc, &h, UC_HOOK_INTR, (void *)on_intr, r, 1, 0), UC_ERR_OK);
	size_t len;
	const uint8_t *code = flashloader_code(&len);
	assert_int_equal(uc_mem_write(r->uc, FL_LOAD_ADDR, code, len), UC_ERR_OK);
	return r;
}

static void rig_free(struct rig *r)
{
	uc_close(r->uc);
	free(r);
}

static uint32_t rig_call(struct rig *r, uint32_t entry, uint32_t a0, uint32_t a1, uint32_t a2,
			 uint32_t out[3])
{
	uint32_t sp = FL_STACK_TOP;
	uc_reg_write(r->uc, UC_ARM_REG_R0, &a0);
	uc_reg_write(r->uc, UC_ARM_REG_R1, &a1);
	uc_reg_write(r->uc, UC_ARM_REG_R2, &a2);
	uc_reg_write(r->uc, UC_ARM_REG_SP, &sp);
	uc_err e = uc_emu_start(r->uc, (FL_LOAD_ADDR + entry) | 1u, 0xFFFFFFFFu, 0, 20000000);
	assert_int_equal(e, UC_ERR_OK);
	uint32_t pc;
	uc_reg_read(r->uc, UC_ARM_REG_PC, &pc);
	size_t len;
	(void)flashloader_code(&len);
	assert_true(pc >= FL_LOAD_ADDR && pc < FL_LOAD_ADDR + len);  /* stopped on its BKPT */
	if (out) {
		uc_reg_read(r->uc, UC_ARM_REG_R0, &out[0]);
		uc_reg_read(r->uc, UC_ARM_REG_R1, &out[1]);
		uc_reg_read(r->uc, UC_ARM_REG_R2, &out[2]);
	}
	uint32_t r0;
	uc_reg_read(r->uc, UC_ARM_REG_R0, &r0);
	return r0;
}

static void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
}

static void program_skips_blank_words(void **state)
{
	(void)state;
	struct rig *r = rig_new();
	uint8_t image[4096];
	fill_pattern(image, sizeof image, 7);
	memset(image + 100 * 4, 0xFF, 40 * 4);   /* 40 blank words inside */
	memset(image + 1020 * 4, 0xFF, 4 * 4);   /* and 4 at the end */
	assert_int_equal(uc_mem_write(r->uc, FL_BUF_A, image, sizeof image), UC_ERR_OK);
	uint32_t out[3];
	assert_int_equal(rig_call(r, FL_ENTRY_PROGRAM, FL_BUF_A, T_FLASH + 0x100, sizeof image, out), 0);
	assert_memory_equal(r->flash + 0x100, image, sizeof image);
	assert_int_equal(r->words_programmed, 1024 - 44);
	assert_int_equal(r->bad_stores, 0);
	assert_int_equal(r->cr & 1u, 0);          /* PG cleared at the end */
	assert_true(r->flash[0xFF] == 0xFF && r->flash[0x100 + sizeof image] == 0xFF);
	rig_free(r);
}

static void program_zero_length(void **state)
{
	(void)state;
	struct rig *r = rig_new();
	assert_int_equal(rig_call(r, FL_ENTRY_PROGRAM, FL_BUF_A, T_FLASH, 0, NULL), 0);
	assert_int_equal(r->words_programmed, 0);
	rig_free(r);
}

static void program_stops_on_error(void **state)
{
	(void)state;
	struct rig *r = rig_new();
	uint8_t image[256];
	memset(image, 0x12, sizeof image);
	r->fail_at = T_FLASH + 0x40;
	assert_int_equal(uc_mem_write(r->uc, FL_BUF_B, image, sizeof image), UC_ERR_OK);
	uint32_t out[3];
	uint32_t status = rig_call(r, FL_ENTRY_PROGRAM, FL_BUF_B, T_FLASH, sizeof image, out);
	assert_int_equal(status & 0x10u, 0x10u);  /* WRPERR reported */
	assert_int_equal(out[1], T_FLASH + 0x40); /* the failing address */
	assert_int_equal(out[2], sizeof image - 0x40);
	assert_int_equal(r->words_programmed, 0x40 / 4);
	rig_free(r);
}

static void crc_entries_match_host(void **state)
{
	(void)state;
	struct rig *r = rig_new();
	uint8_t data[2048];
	fill_pattern(data, sizeof data, 99);
	assert_int_equal(uc_mem_write(r->uc, FL_BUF_A, data, sizeof data), UC_ERR_OK);
	uint32_t want = crc32_stm32(data, sizeof data);
	assert_int_equal(rig_call(r, FL_ENTRY_CRC_SW, FL_BUF_A, sizeof data, 0, NULL), want);
	assert_int_equal(rig_call(r, FL_ENTRY_CRC_HW, FL_BUF_A, sizeof data, 0, NULL), want);
	/* the hardware entry resets the unit first: a second run agrees */
	assert_int_equal(rig_call(r, FL_ENTRY_CRC_HW, FL_BUF_A, sizeof data, 0, NULL), want);
	/* a blank 64-byte range: the value blank checks compare against */
	uint8_t ff[64];
	memset(ff, 0xFF, sizeof ff);
	assert_int_equal(rig_call(r, FL_ENTRY_CRC_SW, T_FLASH, sizeof ff, 0, NULL),
			 crc32_stm32(ff, sizeof ff));
	assert_int_equal(rig_call(r, FL_ENTRY_CRC_SW, FL_BUF_A, 0, 0, NULL), CRC32_STM32_INIT);
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bytes_match_source),
		cmocka_unit_test(layout_fits_sram),
		cmocka_unit_test(program_skips_blank_words),
		cmocka_unit_test(program_zero_length),
		cmocka_unit_test(program_stops_on_error),
		cmocka_unit_test(crc_entries_match_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
