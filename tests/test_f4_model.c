/* The simulated STM32F405 against RM0090 / ARMv7-M as the reference sheet
 * (stlink-swd-stm32f4.md §3–§5) states them: every sequence is done through
 * the debugger's view (f4_mem_write/f4_mem_read) and the flash is checked
 * byte for byte against what the manual says must happen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bench/f4_model.h"

#define FLASH_SR 0x40023C0Cu
#define FLASH_CR 0x40023C10u
#define FLASH_KEYR 0x40023C04u
#define FLASH_OPTKEYR 0x40023C08u
#define FLASH_OPTCR 0x40023C14u
#define DHCSR 0xE000EDF0u
#define DCRSR 0xE000EDF4u
#define DCRDR 0xE000EDF8u
#define DEMCR 0xE000EDFCu
#define DFSR 0xE000ED30u
#define AIRCR 0xE000ED0Cu

#define SR_BSY (1u << 16)
#define SR_EOP 1u
#define SR_WRPERR (1u << 4)
#define SR_PGPERR (1u << 6)
#define SR_PGSERR (1u << 7)
#define CR_PG 1u
#define CR_SER 2u
#define CR_MER 4u
#define CR_STRT (1u << 16)
#define CR_EOPIE (1u << 24)
#define CR_LOCK (1u << 31)
#define PSIZE_X8 (0u << 8)
#define PSIZE_X32 (2u << 8)

struct bench {
	struct bench_clock clock;
	struct f4_model *m;
};

static struct f4_model *make_model(struct bench *b, const struct f4_model_config *base)
{
	struct f4_model_config cfg;
	if (base)
		cfg = *base;
	else
		f4_model_config_defaults(&cfg);
	memset(&b->clock, 0, sizeof b->clock);
	cfg.clock = &b->clock;
	struct vr_error err = {0};
	b->m = f4_model_new(&cfg, &err);
	assert_non_null(b->m);
	return b->m;
}

static void pass_us(struct bench *b, uint64_t us)
{
	bench_clock_advance(&b->clock, us);
	f4_advance_us(b->m, us);
}

static uint32_t rd32(struct f4_model *m, uint32_t addr)
{
	uint32_t v = 0xDEADBEEF, fault = 0;
	assert_int_equal(f4_mem_read(m, addr, &v, 4, 4, &fault), F4_ACK_OK);
	return v;
}

static void wr32(struct f4_model *m, uint32_t addr, uint32_t v)
{
	uint32_t fault = 0;
	assert_int_equal(f4_mem_write(m, addr, &v, 4, 4, &fault), F4_ACK_OK);
}

static void attach(struct f4_model *m)
{
	uint32_t dpidr = 0;
	assert_int_equal(f4_swd_connect(m, &dpidr), F4_ACK_OK);
	assert_int_equal(dpidr, 0x2BA01477u);
}

static void unlock(struct f4_model *m)
{
	wr32(m, FLASH_KEYR, 0x45670123u);
	wr32(m, FLASH_KEYR, 0xCDEF89ABu);
	assert_int_equal(rd32(m, FLASH_CR) & CR_LOCK, 0);
}

/* A minimal valid application: SP in SRAM, reset handler in flash. */
static void put_app(struct f4_model *m)
{
	uint8_t *fl = f4_model_flash(m);
	const uint8_t vectors[8] = {0x00, 0x00, 0x02, 0x20, 0xC1, 0x01, 0x00, 0x08};
	memcpy(fl, vectors, sizeof vectors);
	memset(fl + 0x1C0, 0x00, 64);   /* "code" at the reset handler */
}

static void halt_core(struct f4_model *m)
{
	wr32(m, DHCSR, 0xA05F0003u);
	assert_true(f4_core_halted(m));
}

/* ---- memory map ---------------------------------------------------------- */

static void identification_registers(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b, NULL);
	attach(m);
	assert_int_equal(rd32(m, 0xE0042000u), 0x10070413u);
	assert_int_equal(rd32(m, 0xE000ED00u), 0x410FC241u);
	/* st-flash reads the word at 0x1FFF7A20 and shifts right by 16 */
	assert_int_equal(rd32(m, 0x1FFF7A20u) >> 16, 1024);
	uint16_t kb = 0;
	uint32_t fault = 0;
	assert_int_equal(f4_mem_read(m, 0x1FFF7A22u, &kb, 2, 2, &fault), F4_ACK_OK);
	assert_int_equal(kb, 0x0400);
	uint8_t uid[12];
	assert_int_equal(f4_mem_read(m, 0x1FFF7A10u, uid, 12, 1, &fault), F4_ACK_OK);
	struct f4_model_config cfg;
	f4_model_config_defaults(&cfg);
	assert_memory_equal(uid, cfg.uid, 12);
	/* option bytes: RDP/USER low half of 0x1FFFC000, nWRP low half of +8 */
	assert_int_equal(rd32(m, 0x1FFFC000u) & 0xFFFF, 0xAAED);
	assert_int_equal(rd32(m, 0x1FFFC008u) & 0x0FFF, 0x0FFF);
	assert_int_equal(rd32(m, FLASH_OPTCR), 0x0FFFAAEDu);
	f4_model_free(m);
}

static void memories_and_faults(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b, NULL);
	attach(m);
	wr32(m, 0x20000000u, 0x11223344u);
	wr32(m, 0x2001FFFCu, 0x55667788u);
	wr32(m, 0x10000000u, 0x99AABBCCu);
	wr32(m, 0x1000FFFCu, 0xDDEEFF00u);
	assert_int_equal(rd32(m, 0x20000000u), 0x11223344u);
	assert_int_equal(rd32(m, 0x2001FFFCu), 0x55667788u);
	assert_int_equal(rd32(m, 0x10000000u), 0x99AABBCCu);
	assert_int_equal(rd32(m, 0x1000FFFCu), 0xDDEEFF00u);
	/* byte and half-word lanes of SRAM and of a register */
	uint8_t byte = 0;
	uint32_t fault = 0;
	assert_int_equal(f4_mem_read(m, 0x20000001u, &byte, 1, 1, &fault), F4_ACK_OK);
	assert_int_equal(byte, 0x33);
	uint16_t half = 0;
	assert_int_equal(f4_mem_read(m, 0xE0042002u, &half, 2, 2, &fault), F4_ACK_OK);
	assert_int_equal(half, 0x1007);
	/* just past SRAM, past CCM, a hole: fault with the address */
	uint32_t v;
	assert_int_equal(f4_mem_read(m, 0x20020000u, &v, 4, 4, &fault), F4_ACK_FAULT);
	assert_int_equal(fault, 0x20020000u);
	assert_int_equal(f4_mem_read(m, 0x10010000u, &v, 4, 4, &fault), F4_ACK_FAULT);
	assert_int_equal(fault, 0x10010000u);
	uint32_t two[2];
	assert_int_equal(f4_mem_read(m, 0x2001FFFCu, two, 8, 4, &fault), F4_ACK_FAULT);
	assert_int_equal(fault, 0x20020000u);
	/* unaligned for the width */
	assert_int_equal(f4_mem_read(m, 0x20000002u, &v, 4, 4, &fault), F4_ACK_FAULT);
	/* system memory is not blank, the flash of a new chip is, and the
	 * boot alias at 0 shows the flash */
	uint8_t sys[64];
	assert_int_equal(f4_mem_read(m, 0x1FFF0000u, sys, sizeof sys, 4, &fault), F4_ACK_OK);
	bool all_ff = true;
	for (size_t i = 0; i < sizeof sys; i++)
		all_ff = all_ff && sys[i] == 0xFF;
	assert_false(all_ff);
	assert_int_equal(rd32(m, 0x08000000u), 0xFFFFFFFFu);
	f4_model_flash(m)[0] = 0x12;
	assert_int_equal(rd32(m, 0x00000000u) & 0xFF, 0x12);
	/* the CRC unit computes the STM32 CRC32 (reset, feed one word) */
	wr32(m, 0x40023008u, 1);
	wr32(m, 0x40023000u, 0x12345678u);
	assert_int_equal(rd32(m, 0x40023000u), 0xDF8A8A2Bu);
	f4_model_free(m);
}

/* ---- flash controller ----------------------------------------------------- */

static void program_words_x32(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b, NULL);
	attach(m);
	halt_core(m);
	unlock(m);
	wr32(m, FLASH_CR, CR_PG | PSIZE_X32);
	const uint32_t words[4] = {0x11111111u, 0x22222222u, 0xFFFFFFFFu, 0x0F0F0F0Fu};
	uint32_t fault = 0;
	assert_int_equal(f4_mem_write(m, 0x08004000u, words, sizeof words, 4, &fault), F4_ACK_OK);
	const uint8_t expect[20] = {0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22, 0xFF, 0xFF,
				    0xFF, 0xFF, 0x0F, 0x0F, 0x0F, 0x0F, 0xFF, 0xFF, 0xFF, 0xFF};
	assert_memory_equal(f4_model_flash(m) + 0x4000, expect, sizeof expect);
	/* programming only clears bits: the result is AND-ed, with no error */
	wr32(m, 0x08004000u, 0xF0F0F0F0u);
	assert_int_equal(rd32(m, 0x08004000u), 0x10101010u);
	pass_us(&b, 100);
	assert_int_equal(rd32(m, FLASH_SR) & (SR_BSY | 0xF2u), 0);
	/* EOP only with EOPIE (RM0090) */
	wr32(m, FLASH_CR, CR_PG | PSIZE_X32 | CR_EOPIE);
	wr32(m, 0x08004010u, 0x12345678u);
	pass_us(&b, 100);
	assert_int_equal(rd32(m, FLASH_SR) & SR_EOP, SR_EOP);
	wr32(m, FLASH_SR, SR_EOP);
	assert_int_equal(rd32(m, FLASH_SR) & SR_EOP, 0);
	struct f4_stats st;
	f4_model_stats(m, &st);
	assert_int_equal(st.words_programmed, 6);
	/* lock again */
	wr32(m, FLASH_CR, CR_LOCK);
	assert_int_equal(rd32(m, FLASH_CR) & CR_LOCK, CR_LOCK);
	f4_model_free(m);
}

static void program_takes_tprog_each(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b, NULL);
	attach(m);
	halt_core(m);
	unlock(m);
	wr32(m, FLASH_CR, CR_PG | PSIZE_X32);
	wr32(m, 0x08000000u, 0);
	assert_int_equal(rd32(m, FLASH_SR) & SR_BSY, SR_BSY);
	/* a second write stalls the AHB until the first is done: 16 us each */
	uint64_t before = b.clock.now_us;
	uint32_t block[64];
	memset(block, 0, sizeof block);
	uint32_t fault = 0;
	assert_int_equal(f4_mem_write(m, 0x08000004u, block, sizeof block, 4, &fault), F4_ACK_OK);
	assert_in_range(b.clock.now_us - before, 63 * 16, 64 * 16);
	f4_model_free(m);
}

/* st-flash 1.7's order: sector erase by read-modify-write of CR (SER stays
 * set afterwards), lock, unlock, PSIZE and PG added by read-modify-write,
 * then words. Real F4 parts program in this state. */
static void st_flash_register_sequence(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b, NULL);
	memset(f4_model_flash(m) + 0x8000, 0x00, 0x4000);
	attach(m);
	halt_core(m);
	unlock(m);
	uint32_t cr = rd32(m, FLASH_CR);
	wr32(m, FLASH_CR, (cr & ~0x78u) | (2u << 3) | CR_SER);
	wr32(m, FLASH_CR, rd32(m, FLASH_CR) | CR_STRT);
	while (rd32(m, FLASH_SR) & SR_BSY)
		pass_us(&b, 10000);
	assert_int_equal(f4_model_flash(m)[0x8000], 0xFF);
	assert_int_equal(f4_model_flash(m)[0xBFFF], 0xFF);
	wr32(m, FLASH_CR, rd32(m, FLASH_CR) | CR_LOCK);
	unlock(m);
	wr32(m, FLASH_CR, (rd32(m, FLASH_CR) & ~(3u << 8)) | PSIZE_X32);
	wr32(m, FLASH_CR, rd32(m, FLASH_CR) | CR_PG);
	assert_int_equal(rd32(m, FLASH_CR) & (CR_SER | CR_PG), CR_SER | CR_PG);
	wr32(m, 0x08008000u, 0x12345678u);
	pass_us(&b, 20);
	assert_int_equal(rd32(m, 0x08008000u), 0x12345678u);
	assert_int_equal(rd32(m, FLASH_SR) & 0xF0u, 0);
	f4_model_free(m);
}

static void locked_cr_refuses(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b, NULL);
	attach(m);
	halt_core(m);
	assert_int_equal(rd32(m, FLASH_CR), 0x80000000u);
	wr32(m, FLASH_CR, CR_PG | PSIZE_X32);   /* ignored while locked */
	assert_int_equal(rd32(m, FLASH_CR), 0x80000000u);
	wr32(m, 0x08000000u, 0);
	assert_int_equal(rd32(m, 0x08000000u), 0xFFFFFFFFu);
	assert_int_equal(rd32(m, FLASH_SR) & SR_PGSERR, SR_PGSERR);
	wr32(m, FLASH_SR, 0xF3u);
	assert_int_equal(rd32(m, FLASH_SR), 0);
	/* unlocked but PG not set: a write is a sequence error */
	unlock(m);
	wr32(m, 0x08000000u, 0);
	assert_int_equal(rd32(m, 0x08000000u), 0xFFFFFFFFu);
	assert_int_equal(rd32(m, FLASH_SR) & SR_PGSERR, SR_PGSERR);
	f4_model_free(m);
}

static void wrong_key_locks_until_reset(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b, NULL);
	attach(m);
	halt_core(m);
	uint32_t v = 0x45670123u, fault = 0;
	assert_int_equal(f4_mem_write(m, FLASH_KEYR, &v, 4, 4, &fault), F4_ACK_OK);
	v = 0x12345678u;
	assert_int_equal(f4_mem_write(m, FLASH_KEYR, &v, 4, 4, &fault), F4_ACK_FAULT);
	assert_int_equal(fault, FLASH_KEYR);
	/* the right sequence no longer works */
	v = 0x45670123u;
	assert_int_equal(f4_mem_write(m, FLASH_KEYR, &v, 4, 4, &fault), F4_ACK_FAULT);
	assert_int_equal(rd32(m, FLASH_CR) & CR_LOCK, CR_LOCK);
	/* a system reset (AIRCR.SYSRESETREQ) clears the condition */
	wr32(m, AIRCR, 0x05FA0004u);
	halt_core(m);
	unlock(m);
	f4_model_free(m);
}

static void psize_mismatch(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b, NULL);
	attach(m);
	halt_core(m);
	unlock(m);
	wr32(m, FLASH_CR, CR_PG | PSIZE_X32);
	uint8_t byte = 0x00;
	uint32_t fault = 0;
	assert_int_equal(f4_mem_write(m, 0x08000000u, &byte, 1, 1, &fault), F4_ACK_OK);
	assert_int_equal(rd32(m, 0x08000000u), 0xFFFFFFFFu);
	assert_int_equal(rd32(m, FLASH_SR) & SR_PGPERR, SR_PGPERR);
	/* x8 with byte writes works, x8 with a word write does not */
	wr32(m, FLASH_SR, 0xF0u);
	wr32(m, FLASH_CR, CR_PG | PSIZE_X8);
	assert_int_equal(f4_mem_write(m, 0x08000001u, &byte, 1, 1, &fault), F4_ACK_OK);
	pass_us(&b, 20);
	assert_int_equal(rd32(m, 0x08000000u), 0xFFFF00FFu);
	wr32(m, 0x08000004u, 0);
	assert_int_equal(rd32(m, 0x08000004u), 0xFFFFFFFFu);
	assert_int_equal(rd32(m, FLASH_SR) & SR_PGPERR, SR_PGPERR);
	f4_model_free(m);
}

static void sector_erase_exact(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b, NULL);
	uint8_t *fl = f4_model_flash(m);
	memset(fl, 0x00, F4_FLASH_SIZE);
	attach(m);
	halt_core(m);
	unlock(m);
	/* sector 1 at x32: SER | SNB=1 | PSIZE=2 | STRT */
	wr32(m, FLASH_CR, CR_SER | (1u << 3) | PSIZE_X32 | CR_STRT);
	assert_int_equal(rd32(m, FLASH_SR) & SR_BSY, SR_BSY);
	pass_us(&b, 249000);
	assert_int_equal(rd32(m, FLASH_SR) & SR_BSY, SR_BSY);
	pass_us(&b, 1000);
	assert_int_equal(rd32(m, FLASH_SR) & SR_BSY, 0);
	assert_int_equal(rd32(m, FLASH_CR) & CR_STRT, 0);
	for (uint32_t i = 0; i < F4_FLASH_SIZE; i++) {
		uint8_t want = (i >= 0x4000 && i < 0x8000) ? 0xFF : 0x00;
		if (fl[i] != want)
			fail_msg("byte 0x%X is 0x%02X, want 0x%02X", i, fl[i], want);
	}
	/* sector 11 (128 KB) at x8 takes 2 x 1 s */
	wr32(m, FLASH_CR, CR_SER | (11u << 3) | PSIZE_X8 | CR_STRT);
	pass_us(&b, 1999000);
	assert_int_equal(rd32(m, FLASH_SR) & SR_BSY, SR_BSY);
	pass_us(&b, 1000);
	assert_int_equal(rd32(m, FLASH_SR) & SR_BSY, 0);
	assert_int_equal(fl[0xE0000], 0xFF);
	assert_int_equal(fl[0xFFFFF], 0xFF);
	assert_int_equal(fl[0xDFFFF], 0x00);
	struct f4_stats st;
	f4_model_stats(m, &st);
	assert_int_equal(st.sector_erases, 2);
	assert_int_equal(st.psize_of_last_erase, 0);
	f4_model_free(m);
}

static uint64_t mass_erase_duration(unsigned psize_bits)
{
	struct bench b;
	struct f4_model *m = make_model(&b, NULL);
	memset(f4_model_flash(m), 0x5A, F4_FLASH_SIZE);
	attach(m);
	halt_core(m);
	unlock(m);
	/* as st-flash does: MER (with PSIZE), then STRT in a second write */
	wr32(m, FLASH_CR, CR_MER | psize_bits);
	wr32(m, FLASH_CR, CR_MER | psize_bits | CR_STRT);
	uint64_t start = b.clock.now_us, elapsed = 0;
	while (rd32(m, FLASH_SR) & SR_BSY) {
		pass_us(&b, 10000);
		elapsed = b.clock.now_us - start;
		if (elapsed > 40000000u)
			break;
	}
	for (uint32_t i = 0; i < F4_FLASH_SIZE; i += 4093)
		assert_int_equal(f4_model_flash(m)[i], 0xFF);
	f4_model_free(m);
	return elapsed;
}

static void mass_erase_timing(void **state)
{
	(void)state;
	assert_in_range(mass_erase_duration(PSIZE_X32), 8000000u, 8010000u);
	assert_in_range(mass_erase_duration(PSIZE_X8), 16000000u, 16010000u);
}

static void write_protected_sector(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model_config cfg;
	f4_model_config_defaults(&cfg);
	cfg.optcr = 0x07FFAAEDu;   /* nWRP11 = 0 */
	struct f4_model *m = make_model(&b, &cfg);
	attach(m);
	halt_core(m);
	unlock(m);
	wr32(m, FLASH_CR, CR_SER | (11u << 3) | PSIZE_X32 | CR_STRT);
	assert_int_equal(rd32(m, FLASH_SR) & (SR_WRPERR | SR_BSY), SR_WRPERR);
	wr32(m, FLASH_SR, SR_WRPERR);
	wr32(m, FLASH_CR, CR_PG | PSIZE_X32);
	wr32(m, 0x080E0000u, 0);
	assert_int_equal(rd32(m, 0x080E0000u), 0xFFFFFFFFu);
	assert_int_equal(rd32(m, FLASH_SR) & SR_WRPERR, SR_WRPERR);
	/* other sectors still program */
	wr32(m, FLASH_SR, SR_WRPERR);
	wr32(m, 0x080C0000u, 0);
	assert_int_equal(rd32(m, 0x080C0000u), 0);
	/* a mass erase with any sector protected fails */
	wr32(m, FLASH_CR, CR_MER | PSIZE_X32);
	wr32(m, FLASH_CR, CR_MER | PSIZE_X32 | CR_STRT);
	assert_int_equal(rd32(m, FLASH_SR) & (SR_WRPERR | SR_BSY), SR_WRPERR);
	assert_int_equal(rd32(m, 0x080C0000u), 0);
	f4_model_free(m);
}

/* Returns the modeled microseconds BSY stayed set. */
static uint64_t option_write(struct bench *b, struct f4_model *m, uint32_t optcr)
{
	wr32(m, FLASH_OPTKEYR, 0x08192A3Bu);
	wr32(m, FLASH_OPTKEYR, 0x4C5D6E7Fu);
	assert_int_equal(rd32(m, FLASH_OPTCR) & 1u, 0);
	wr32(m, FLASH_OPTCR, optcr & ~3u);
	wr32(m, FLASH_OPTCR, (optcr & ~3u) | 2u);
	assert_int_equal(rd32(m, FLASH_SR) & SR_BSY, SR_BSY);
	uint64_t start = b->clock.now_us;
	for (int i = 0; i < 4000 && (rd32(m, FLASH_SR) & SR_BSY); i++)
		pass_us(b, 10000);
	assert_int_equal(rd32(m, FLASH_SR) & SR_BSY, 0);
	wr32(m, FLASH_OPTCR, optcr | 1u);
	return b->clock.now_us - start;
}

static void rdp1_and_regression(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model_config cfg;
	f4_model_config_defaults(&cfg);
	cfg.optcr = 0x0FFF55EDu;
	struct f4_model *m = make_model(&b, &cfg);
	put_app(m);
	memset(f4_model_flash(m) + 0x80000, 0x42, 0x100);
	attach(m);
	halt_core(m);
	/* flash reads fault; registers, option bytes and SRAM do not */
	uint32_t v, fault = 0;
	assert_int_equal(f4_mem_read(m, 0x08000000u, &v, 4, 4, &fault), F4_ACK_FAULT);
	assert_int_equal(fault, 0x08000000u);
	assert_int_equal(f4_mem_read(m, 0x00000000u, &v, 4, 4, &fault), F4_ACK_FAULT);
	assert_int_equal(rd32(m, FLASH_OPTCR), 0x0FFF55EDu);
	assert_int_equal(rd32(m, 0x1FFFC000u) & 0xFF00u, 0x5500u);
	rd32(m, 0x20000000u);
	/* program and erase of protected memory fail */
	unlock(m);
	wr32(m, FLASH_CR, CR_PG | PSIZE_X32);
	wr32(m, 0x08080000u, 0);
	assert_int_equal(f4_model_flash(m)[0x80000], 0x42);
	assert_int_not_equal(rd32(m, FLASH_SR) & 0xF0u, 0);
	wr32(m, FLASH_SR, 0xF0u);
	wr32(m, FLASH_CR, 0);
	/* regression: RDP back to 0xAA mass-erases the main flash */
	uint64_t took = option_write(&b, m, 0x0FFFAAEDu);
	/* the hidden mass erase takes its time (x8: PSIZE is 0 here) */
	assert_true(took >= 16000000u && took < 17000000u);
	for (uint32_t i = 0; i < F4_FLASH_SIZE; i += 997)
		assert_int_equal(f4_model_flash(m)[i], 0xFF);
	assert_int_equal(f4_model_optcr(m) & 0xFF00u, 0xAA00u);
	/* the new level applies after a power cycle */
	assert_int_equal(f4_mem_read(m, 0x08000000u, &v, 4, 4, &fault), F4_ACK_FAULT);
	f4_power_cycle(m);
	attach(m);
	assert_int_equal(rd32(m, 0x08000000u), 0xFFFFFFFFu);
	assert_int_equal(rd32(m, FLASH_OPTCR), 0x0FFFAAEDu);
	f4_model_free(m);
}

static void rdp2_silences_debug(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b, NULL);
	attach(m);
	halt_core(m);
	unlock(m);
	option_write(&b, m, 0x0FFFCCEDu);
	f4_power_cycle(m);
	uint32_t dpidr = 0;
	assert_int_equal(f4_swd_connect(m, &dpidr), F4_ACK_NONE);
	f4_set_nrst(m, true);
	assert_int_equal(f4_swd_connect(m, &dpidr), F4_ACK_NONE);
	f4_model_free(m);
}

static void wrp_clear_through_options(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model_config cfg;
	f4_model_config_defaults(&cfg);
	cfg.optcr = 0x07FFAAEDu;
	struct f4_model *m = make_model(&b, &cfg);
	attach(m);
	halt_core(m);
	unlock(m);
	option_write(&b, m, 0x0FFFAAEDu);
	assert_int_equal(f4_model_optcr(m), 0x0FFFAAEDu);
	struct f4_stats st;
	f4_model_stats(m, &st);
	assert_int_equal(st.option_writes, 1);
	wr32(m, FLASH_CR, CR_SER | (11u << 3) | PSIZE_X32 | CR_STRT);
	assert_int_equal(rd32(m, FLASH_SR) & (SR_WRPERR | SR_BSY), SR_BSY);
	f4_model_free(m);
}

/* ---- debug, reset, connect ------------------------------------------------- */

static void debug_registers(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b, NULL);
	put_app(m);
	f4_power_cycle(m);
	attach(m);
	assert_true(f4_app_running(m));
	/* without DBGKEY a DHCSR write is ignored */
	wr32(m, DHCSR, 0x00000003u);
	assert_false(f4_core_halted(m));
	uint32_t dhcsr = rd32(m, DHCSR);
	assert_int_equal(dhcsr & (1u << 25), 1u << 25);   /* S_RESET_ST since power-on */
	assert_int_equal(rd32(m, DHCSR) & (1u << 25), 0); /* sticky: cleared by the read */
	halt_core(m);
	dhcsr = rd32(m, DHCSR);
	assert_int_equal(dhcsr & 0x00030003u, 0x00030003u);  /* S_REGRDY S_HALT C_HALT C_DEBUGEN */
	assert_int_equal(rd32(m, DFSR) & 1u, 1u);
	wr32(m, DFSR, 0x1Fu);
	assert_int_equal(rd32(m, DFSR), 0);
	/* DCRSR/DCRDR: read PC, write R0 */
	wr32(m, DCRSR, 15);
	assert_int_equal(rd32(m, DCRDR), 0x080001C0u);
	wr32(m, DCRDR, 0xCAFEF00Du);
	wr32(m, DCRSR, (1u << 16) | 0);
	uint32_t r0 = 0;
	assert_int_equal(f4_core_reg_read(m, 0, &r0), F4_ACK_OK);
	assert_int_equal(r0, 0xCAFEF00Du);
	assert_int_equal(f4_core_reg_read(m, 13, &r0), F4_ACK_OK);
	assert_int_equal(r0, 0x20020000u);
	/* run: registers are no longer available */
	wr32(m, DHCSR, 0xA05F0001u);
	assert_true(f4_app_running(m));
	assert_int_equal(f4_core_reg_read(m, 0, &r0), F4_ACK_FAULT);
	/* SYSRESETREQ with vector catch: halted at the reset vector, flash kept,
	 * debug registers kept, flash interface locked again */
	halt_core(m);
	unlock(m);
	wr32(m, DEMCR, 0x01000501u);
	wr32(m, AIRCR, 0x05FA0004u);
	assert_true(f4_core_halted(m));
	assert_int_equal(rd32(m, DFSR) & 8u, 8u);
	assert_int_equal(rd32(m, DEMCR), 0x01000501u);
	assert_int_equal(rd32(m, FLASH_CR) & CR_LOCK, CR_LOCK);
	assert_int_equal(rd32(m, DHCSR) & (1u << 25), 1u << 25);
	uint32_t pc = 0;
	assert_int_equal(f4_core_reg_read(m, 15, &pc), F4_ACK_OK);
	assert_int_equal(pc, 0x080001C0u);
	assert_int_equal(rd32(m, 0x08000004u), 0x080001C1u);
	/* DBGMCU keeps its bits across a system reset */
	wr32(m, 0xE0042004u, 7);
	wr32(m, 0xE0042008u, 0x1800);
	wr32(m, AIRCR, 0x05FA0004u);
	assert_int_equal(rd32(m, 0xE0042004u), 7);
	assert_int_equal(rd32(m, 0xE0042008u), 0x1800);
	f4_model_free(m);
}

static void lockout_after_app_start(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model_config cfg;
	f4_model_config_defaults(&cfg);
	cfg.app_locks_swd = true;
	struct f4_model *m = make_model(&b, &cfg);
	put_app(m);
	f4_power_cycle(m);
	assert_true(f4_app_running(m));
	/* the app has only just started: the DP still answers */
	attach(m);
	pass_us(&b, 3000);
	uint32_t v, fault, dpidr;
	assert_false(f4_swd_attached(m));
	assert_int_equal(f4_mem_read(m, 0xE0042000u, &v, 4, 4, &fault), F4_ACK_NONE);
	assert_int_equal(f4_swd_connect(m, &dpidr), F4_ACK_NONE);
	/* connect-under-reset: NRST low, the DP answers, the core is held */
	f4_set_nrst(m, true);
	assert_true(f4_core_in_reset(m));
	attach(m);
	assert_int_equal(rd32(m, 0xE000ED00u), 0x410FC241u);
	wr32(m, DHCSR, 0xA05F0003u);
	wr32(m, DEMCR, 0x01000001u);
	/* the flash interface is held in reset with the core: an unlock does not stick */
	wr32(m, FLASH_KEYR, 0x45670123u);
	wr32(m, FLASH_KEYR, 0xCDEF89ABu);
	f4_set_nrst(m, false);
	assert_true(f4_core_halted(m));
	assert_int_equal(rd32(m, FLASH_CR), 0x80000000u);
	assert_int_equal(rd32(m, DFSR) & 8u, 8u);
	uint32_t pc = 0;
	assert_int_equal(f4_core_reg_read(m, 15, &pc), F4_ACK_OK);
	assert_int_equal(pc, 0x080001C0u);
	/* halted, the app never runs: still attached much later */
	pass_us(&b, 100000);
	assert_true(f4_swd_attached(m));
	/* resuming runs the app, which cuts the session off again */
	wr32(m, DHCSR, 0xA05F0001u);
	pass_us(&b, 2500);
	assert_false(f4_swd_attached(m));
	f4_model_free(m);
}

static void no_nrst_needs_manual_reset(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model_config cfg;
	f4_model_config_defaults(&cfg);
	cfg.app_locks_swd = true;
	cfg.nrst_wired = false;
	struct f4_model *m = make_model(&b, &cfg);
	put_app(m);
	f4_power_cycle(m);
	pass_us(&b, 5000);
	uint32_t dpidr;
	f4_set_nrst(m, true);   /* the probe's line goes nowhere */
	assert_int_equal(f4_swd_connect(m, &dpidr), F4_ACK_NONE);
	f4_set_nrst(m, false);
	f4_manual_nrst(m, true);
	attach(m);
	wr32(m, DHCSR, 0xA05F0003u);
	f4_manual_nrst(m, false);
	/* a halt request made during reset is taken before the first instruction */
	assert_true(f4_core_halted(m));
	pass_us(&b, 10000);
	assert_true(f4_swd_attached(m));
	f4_model_free(m);
}

static void blank_chip_locks_up(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b, NULL);
	assert_true(f4_core_locked_up(m));
	attach(m);
	assert_int_equal(rd32(m, DHCSR) & (1u << 19), 1u << 19);
	halt_core(m);
	assert_int_equal(rd32(m, DHCSR) & (1u << 19), 0);
	f4_model_free(m);
}

static void unpowered_and_miswired(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model_config cfg;
	f4_model_config_defaults(&cfg);
	cfg.vdd = 0.0;
	struct f4_model *m = make_model(&b, &cfg);
	uint32_t dpidr;
	assert_int_equal(f4_swd_connect(m, &dpidr), F4_ACK_NONE);
	f4_set_nrst(m, true);
	assert_int_equal(f4_swd_connect(m, &dpidr), F4_ACK_NONE);
	f4_set_nrst(m, false);
	f4_set_vdd(m, 3.3);
	attach(m);
	f4_model_free(m);

	f4_model_config_defaults(&cfg);
	cfg.swd_wired = false;
	m = make_model(&b, &cfg);
	assert_int_equal(f4_swd_connect(m, &dpidr), F4_ACK_NONE);
	uint32_t v, fault;
	assert_int_equal(f4_mem_read(m, 0x20000000u, &v, 4, 4, &fault), F4_ACK_NONE);
	f4_model_free(m);
}

/* ---- state file ---------------------------------------------------------------- */

static void save_load_round_trip(void **state)
{
	(void)state;
	char dir[] = "/tmp/vr-f4-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof path, "%s/chip.state", dir);
	struct bench b;
	struct f4_model *m = make_model(&b, NULL);
	uint8_t *fl = f4_model_flash(m);
	for (uint32_t i = 0; i < F4_FLASH_SIZE; i++)
		fl[i] = (uint8_t)(i * 7 + (i >> 11));
	f4_model_otp(m)[3] = 0x5A;
	f4_model_set_optcr(m, 0x07FF55EDu);
	struct vr_error err = {0};
	assert_int_equal(f4_model_save(m, path, &err), VR_OK);
	struct bench b2;
	struct f4_model *m2 = make_model(&b2, NULL);
	assert_int_equal(f4_model_load(m2, path, &err), VR_OK);
	assert_memory_equal(f4_model_flash(m2), fl, F4_FLASH_SIZE);
	assert_int_equal(f4_model_otp(m2)[3], 0x5A);
	assert_int_equal(f4_model_optcr(m2), 0x07FF55EDu);
	/* a damaged file is refused with a message, the chip untouched */
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 1000, SEEK_SET);
	fputc(0x00, f);
	fclose(f);
	memset(f4_model_flash(m2), 0xFF, 16);
	assert_int_equal(f4_model_load(m2, path, &err), VR_ERR_INPUT);
	assert_non_null(strstr(err.msg, "damaged"));
	assert_int_equal(f4_model_flash(m2)[0], 0xFF);
	/* missing and truncated files */
	char missing[160];
	snprintf(missing, sizeof missing, "%s/none", dir);
	assert_int_equal(f4_model_load(m2, missing, &err), VR_ERR_INPUT);
	f = fopen(path, "wb");
	fputs("VRF4MDL", f);
	fclose(f);
	assert_int_equal(f4_model_load(m2, path, &err), VR_ERR_INPUT);
	unlink(path);
	rmdir(dir);
	f4_model_free(m);
	f4_model_free(m2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(identification_registers),
		cmocka_unit_test(memories_and_faults),
		cmocka_unit_test(program_words_x32),
		cmocka_unit_test(program_takes_tprog_each),
		cmocka_unit_test(st_flash_register_sequence),
		cmocka_unit_test(locked_cr_refuses),
		cmocka_unit_test(wrong_key_locks_until_reset),
		cmocka_unit_test(psize_mismatch),
		cmocka_unit_test(sector_erase_exact),
		cmocka_unit_test(mass_erase_timing),
		cmocka_unit_test(write_protected_sector),
		cmocka_unit_test(rdp1_and_regression),
		cmocka_unit_test(rdp2_silences_debug),
		cmocka_unit_test(wrp_clear_through_options),
		cmocka_unit_test(debug_registers),
		cmocka_unit_test(lockout_after_app_start),
		cmocka_unit_test(no_nrst_needs_manual_reset),
		cmocka_unit_test(blank_chip_locks_up),
		cmocka_unit_test(unpowered_and_miswired),
		cmocka_unit_test(save_load_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
