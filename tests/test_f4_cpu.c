/* The emulated Cortex-M4 inside the F405 model: code placed in SRAM by the
 * "debugger" runs under DHCSR control, reaches the flash controller through
 * the model, halts on BKPT, and faults visibly. The Thumb programs are hand
 * encoded; each was checked with arm-none-eabi-as/objdump (listing beside
 * the halfwords). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <cmocka.h>

#include "bench/f4_model.h"

#define FLASH_SR 0x40023C0Cu
#define FLASH_CR 0x40023C10u
#define FLASH_KEYR 0x40023C04u
#define DHCSR 0xE000EDF0u
#define DEMCR 0xE000EDFCu
#define DFSR 0xE000ED30u
#define CFSR 0xE000ED28u
#define BFAR 0xE000ED38u
#define S_HALT (1u << 17)
#define S_LOCKUP (1u << 19)
#define LOADER 0x20000000u
#define BUFFER 0x20000100u

/* st-flash's F4 loader in spirit: copy words to flash, wait for BSY, loop.
 *   0: 6804  ldr  r4, [r0, #0]
 *   2: 600c  str  r4, [r1, #0]
 *   4: 3004  adds r0, #4
 *   6: 3104  adds r1, #4
 *   8: 681d  ldr  r5, [r3, #0]     (FLASH_SR)
 *   a: 0c2d  lsrs r5, r5, #16      (BSY)
 *   c: d1fc  bne  8
 *   e: 3a04  subs r2, #4
 *  10: d1f6  bne  0
 *  12: be00  bkpt 0x0000 */
static const uint16_t word_loader[] = {0x6804, 0x600c, 0x3004, 0x3104, 0x681d,
				       0x0c2d, 0xd1fc, 0x3a04, 0xd1f6, 0xbe00};

/* Start an erase and wait for it:
 *   0: 600c  str  r4, [r1, #0]     (FLASH_CR)
 *   2: 681d  ldr  r5, [r3, #0]
 *   4: 0c2d  lsrs r5, r5, #16
 *   6: d1fc  bne  2
 *   8: be00  bkpt 0x0000 */
static const uint16_t erase_loader[] = {0x600c, 0x681d, 0x0c2d, 0xd1fc, 0xbe00};

/*   0: 6834  ldr  r4, [r6, #0]
 *   2: be01  bkpt 0x0001 */
static const uint16_t load_r6[] = {0x6834, 0xbe01};

/*   0: 3001  adds r0, #1
 *   2: 3001  adds r0, #1
 *   4: 4738  bx   r7 */
static const uint16_t count_then_jump[] = {0x3001, 0x3001, 0x4738};

struct bench {
	struct bench_clock clock;
	struct f4_model *m;
};

static struct f4_model *make_model(struct bench *b)
{
	struct f4_model_config cfg;
	f4_model_config_defaults(&cfg);
	memset(&b->clock, 0, sizeof b->clock);
	cfg.clock = &b->clock;
	struct vr_error err = {0};
	b->m = f4_model_new(&cfg, &err);
	assert_non_null(b->m);
	uint32_t dpidr;
	assert_int_equal(f4_swd_connect(b->m, &dpidr), F4_ACK_OK);
	return b->m;
}

static void pass_us(struct bench *b, uint64_t us)
{
	bench_clock_advance(&b->clock, us);
	f4_advance_us(b->m, us);
}

static uint32_t rd32(struct f4_model *m, uint32_t addr)
{
	uint32_t v = 0, fault = 0;
	assert_int_equal(f4_mem_read(m, addr, &v, 4, 4, &fault), F4_ACK_OK);
	return v;
}

static void wr32(struct f4_model *m, uint32_t addr, uint32_t v)
{
	uint32_t fault = 0;
	assert_int_equal(f4_mem_write(m, addr, &v, 4, 4, &fault), F4_ACK_OK);
}

static void load_code(struct f4_model *m, const uint16_t *code, size_t halfwords)
{
	uint32_t fault = 0;
	assert_int_equal(f4_mem_write(m, LOADER, code, halfwords * 2, 2, &fault), F4_ACK_OK);
}

static void set_reg(struct f4_model *m, unsigned reg, uint32_t v)
{
	assert_int_equal(f4_core_reg_write(m, reg, v), F4_ACK_OK);
}

static uint32_t get_reg(struct f4_model *m, unsigned reg)
{
	uint32_t v = 0;
	assert_int_equal(f4_core_reg_read(m, reg, &v), F4_ACK_OK);
	return v;
}

static void prepare_halted(struct f4_model *m)
{
	wr32(m, DHCSR, 0xA05F0003u);
	assert_true(f4_core_halted(m));
	wr32(m, DFSR, 0x1Fu);
	set_reg(m, 16, 0x01000000u);
	set_reg(m, 13, 0x20001000u);
}

static void unlock_for_x32_program(struct f4_model *m)
{
	wr32(m, FLASH_KEYR, 0x45670123u);
	wr32(m, FLASH_KEYR, 0xCDEF89ABu);
	wr32(m, FLASH_CR, 0x201u);   /* PG, PSIZE x32 */
}

/* Polls DHCSR every ms like a debugger until S_HALT, returns modeled us. */
static uint64_t run_until_halt(struct bench *b, uint64_t limit_us)
{
	uint64_t start = b->clock.now_us;
	wr32(b->m, DHCSR, 0xA05F0009u);   /* run with interrupts masked, as st-flash does */
	while (!(rd32(b->m, DHCSR) & S_HALT)) {
		if (b->clock.now_us - start > limit_us)
			fail_msg("core did not halt within %llu us", (unsigned long long)limit_us);
		pass_us(b, 1000);
	}
	return b->clock.now_us - start;
}

static void loader_programs_flash(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b);
	prepare_halted(m);
	enum { WORDS = 1024 };
	uint32_t data[WORDS];
	for (uint32_t i = 0; i < WORDS; i++)
		data[i] = i * 0x01010101u ^ 0xA5A5A5A5u;
	data[7] = 0xFFFFFFFFu;
	uint32_t fault = 0;
	assert_int_equal(f4_mem_write(m, BUFFER, data, sizeof data, 4, &fault), F4_ACK_OK);
	load_code(m, word_loader, sizeof word_loader / 2);
	unlock_for_x32_program(m);
	set_reg(m, 0, BUFFER);
	set_reg(m, 1, 0x08010000u);
	set_reg(m, 2, sizeof data);
	set_reg(m, 3, FLASH_SR);
	set_reg(m, 15, LOADER);
	uint64_t took = run_until_halt(&b, 500000);
	/* 1024 program steps of 16 us each; the host polls in 1 ms steps */
	assert_in_range(took, 1024 * 16, 1024 * 16 + 2000);
	assert_memory_equal(f4_model_flash(m) + 0x10000, data, sizeof data);
	assert_int_equal(f4_model_flash(m)[0x10000 + sizeof data], 0xFF);
	assert_int_equal(get_reg(m, 2), 0);
	assert_int_equal(get_reg(m, 1), 0x08010000u + sizeof data);
	assert_int_equal(get_reg(m, 15), LOADER + 0x12);   /* on the BKPT */
	assert_int_equal(rd32(m, DFSR) & 2u, 2u);          /* DFSR.BKPT */
	/* Debug state entry sets C_HALT too (st-flash 1.7 tests only that) */
	assert_int_equal(rd32(m, DHCSR) & 0x00030003u, 0x00030003u);
	assert_int_equal(rd32(m, FLASH_SR) & 0xF2u, 0);
	struct f4_stats st;
	f4_model_stats(m, &st);
	assert_int_equal(st.words_programmed, WORDS);
	assert_true(st.cpu_instructions >= WORDS * 9);
	f4_model_free(m);
}

static void loader_sees_psize_error(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b);
	prepare_halted(m);
	uint32_t word = 0;
	wr32(m, BUFFER, word);
	load_code(m, word_loader, sizeof word_loader / 2);
	wr32(m, FLASH_KEYR, 0x45670123u);
	wr32(m, FLASH_KEYR, 0xCDEF89ABu);
	wr32(m, FLASH_CR, 0x001u);   /* PG at x8 but the loader stores words */
	set_reg(m, 0, BUFFER);
	set_reg(m, 1, 0x08000000u);
	set_reg(m, 2, 4);
	set_reg(m, 3, FLASH_SR);
	set_reg(m, 15, LOADER);
	run_until_halt(&b, 10000);
	assert_int_equal(f4_model_flash(m)[0], 0xFF);
	assert_int_equal(rd32(m, FLASH_SR) & (1u << 6), 1u << 6);   /* PGPERR */
	f4_model_free(m);
}

static void loader_waits_out_an_erase(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b);
	memset(f4_model_flash(m) + 0x4000, 0x00, 0x4000);
	prepare_halted(m);
	load_code(m, erase_loader, sizeof erase_loader / 2);
	wr32(m, FLASH_KEYR, 0x45670123u);
	wr32(m, FLASH_KEYR, 0xCDEF89ABu);
	set_reg(m, 1, FLASH_CR);
	set_reg(m, 3, FLASH_SR);
	set_reg(m, 4, 0x0001020Au);   /* STRT | PSIZE x32 | SNB 1 | SER */
	set_reg(m, 15, LOADER);
	/* the core keeps polling across many slices: still running at 200 ms */
	wr32(m, DHCSR, 0xA05F0001u);
	pass_us(&b, 200000);
	assert_int_equal(rd32(m, DHCSR) & S_HALT, 0);
	assert_int_equal(f4_model_flash(m)[0x4000], 0x00);
	pass_us(&b, 51000);
	assert_int_equal(rd32(m, DHCSR) & S_HALT, S_HALT);
	assert_int_equal(f4_model_flash(m)[0x4000], 0xFF);
	assert_int_equal(f4_model_flash(m)[0x7FFF], 0xFF);
	f4_model_free(m);
}

static void bad_access_faults(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b);
	prepare_halted(m);
	load_code(m, load_r6, 2);
	set_reg(m, 6, 0x30000000u);
	set_reg(m, 15, LOADER);
	wr32(m, DHCSR, 0xA05F0001u);
	pass_us(&b, 100);
	/* no vector catch: the core locks up, the debugger sees it */
	assert_true(f4_core_locked_up(m));
	assert_int_equal(rd32(m, DHCSR) & S_LOCKUP, S_LOCKUP);
	assert_int_equal(rd32(m, CFSR) & 0x8200u, 0x8200u);   /* BFARVALID | PRECISERR */
	assert_int_equal(rd32(m, BFAR), 0x30000000u);
	/* the debugger can halt out of lockup; with VC_HARDERR the core halts */
	wr32(m, DHCSR, 0xA05F0003u);
	assert_true(f4_core_halted(m));
	wr32(m, CFSR, 0xFFFFFFFFu);
	wr32(m, DFSR, 0x1Fu);
	wr32(m, DEMCR, 0x01000400u);
	set_reg(m, 15, LOADER);
	wr32(m, DHCSR, 0xA05F0001u);
	pass_us(&b, 100);
	assert_true(f4_core_halted(m));
	assert_int_equal(rd32(m, DFSR) & 8u, 8u);
	/* a readable address instead: runs to the BKPT */
	set_reg(m, 6, 0x40023C10u);
	set_reg(m, 15, LOADER);
	wr32(m, DHCSR, 0xA05F0001u);
	pass_us(&b, 100);
	assert_true(f4_core_halted(m));
	assert_int_equal(get_reg(m, 4), 0x80000000u);
	assert_int_equal(get_reg(m, 15), LOADER + 2);
	f4_model_free(m);
}

static void step_and_leave_for_flash(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b);
	prepare_halted(m);
	load_code(m, count_then_jump, 3);
	set_reg(m, 0, 0);
	set_reg(m, 15, LOADER);
	wr32(m, DHCSR, 0xA05F0005u);   /* C_STEP */
	assert_true(f4_core_halted(m));
	assert_int_equal(get_reg(m, 0), 1);
	assert_int_equal(get_reg(m, 15), LOADER + 2);
	/* a jump into flash that holds code: the application runs */
	memset(f4_model_flash(m) + 0x100, 0x00, 16);
	set_reg(m, 7, 0x08000101u);
	wr32(m, DHCSR, 0xA05F0001u);
	pass_us(&b, 100);
	assert_true(f4_app_running(m));
	/* into blank flash instead: it faults */
	wr32(m, DHCSR, 0xA05F0003u);
	set_reg(m, 7, 0x08080001u);
	set_reg(m, 15, LOADER);
	wr32(m, DHCSR, 0xA05F0001u);
	pass_us(&b, 100);
	assert_true(f4_core_locked_up(m));
	/* a step followed by a run once made unicorn touch its whole 1 GB
	 * translation buffer; the bench must stay small */
	struct rusage ru;
	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	assert_true(ru.ru_maxrss < 512 * 1024);
	f4_model_free(m);
}

/* A second program loaded where the first ran must be the one executed:
 * the core must not keep running stale translated code. */
static void reloaded_code_is_seen(void **state)
{
	(void)state;
	struct bench b;
	struct f4_model *m = make_model(&b);
	prepare_halted(m);
	load_code(m, count_then_jump, 3);   /* adds r0, #1 twice, then bx r7 */
	static const uint16_t add_three[] = {0x3003, 0xbe00};   /* adds r0, #3; bkpt */
	set_reg(m, 0, 0);
	set_reg(m, 7, LOADER | 1u);      /* loops back into itself... */
	set_reg(m, 15, LOADER);
	wr32(m, DHCSR, 0xA05F0001u);
	pass_us(&b, 10);
	wr32(m, DHCSR, 0xA05F0003u);
	assert_true(get_reg(m, 0) > 2);
	load_code(m, add_three, 2);
	set_reg(m, 0, 0);
	set_reg(m, 15, LOADER);
	wr32(m, DHCSR, 0xA05F0001u);
	pass_us(&b, 10);
	assert_true(f4_core_halted(m));
	assert_int_equal(get_reg(m, 0), 3);
	f4_model_free(m);
}

/* OpenOCD's async flash algorithm polls a FIFO pointer in SRAM while the
 * host fills it through the AP: the running core must see those writes.
 *   0: 6801  ldr  r1, [r0, #0]
 *   2: 2900  cmp  r1, #0
 *   4: d0fc  beq  0
 *   6: be00  bkpt 0x0000 */
static void core_sees_debugger_writes_while_running(void **state)
{
	(void)state;
	static const uint16_t wait_for_word[] = {0x6801, 0x2900, 0xd0fc, 0xbe00};
	struct bench b;
	struct f4_model *m = make_model(&b);
	prepare_halted(m);
	wr32(m, BUFFER, 0);
	load_code(m, wait_for_word, 4);
	set_reg(m, 0, BUFFER);
	set_reg(m, 15, LOADER);
	wr32(m, DHCSR, 0xA05F0001u);
	for (int i = 0; i < 50; i++)
		pass_us(&b, 1000);
	assert_false(f4_core_halted(m));
	struct f4_stats st;
	f4_model_stats(m, &st);
	/* 50 ms at 16 instructions per microsecond */
	assert_in_range(st.cpu_instructions, 700000, 900000);
	wr32(m, BUFFER, 0x20000200u);
	pass_us(&b, 10);
	assert_true(f4_core_halted(m));
	assert_int_equal(get_reg(m, 1), 0x20000200u);
	f4_model_free(m);
}

/* A loader that resets the chip (AIRCR.SYSRESETREQ from the core):
 *   0: 6008  str  r0, [r1, #0]
 *   2: e7fe  b.n  2
 * With VC_CORERESET the core ends halted at the reset vector with the reset
 * state, not with the registers the emulator had when it stopped. */
static void core_requested_reset(void **state)
{
	(void)state;
	static const uint16_t reset_me[] = {0x6008, 0xe7fe};
	struct bench b;
	struct f4_model *m = make_model(&b);
	uint8_t *fl = f4_model_flash(m);
	const uint8_t vectors[8] = {0x00, 0x10, 0x02, 0x20, 0x01, 0x02, 0x00, 0x08};
	memcpy(fl, vectors, sizeof vectors);
	memset(fl + 0x200, 0, 16);
	prepare_halted(m);
	wr32(m, DEMCR, 0x01000001u);
	load_code(m, reset_me, 2);
	set_reg(m, 0, 0x05FA0004u);
	set_reg(m, 1, 0xE000ED0Cu);
	set_reg(m, 15, LOADER);
	wr32(m, DHCSR, 0xA05F0001u);
	pass_us(&b, 100);
	assert_true(f4_core_halted(m));
	assert_int_equal(rd32(m, DFSR) & 8u, 8u);
	assert_int_equal(get_reg(m, 15), 0x08000200u);
	assert_int_equal(get_reg(m, 13), 0x20021000u & ~3u);
	assert_int_equal(get_reg(m, 0), 0);
	f4_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loader_programs_flash),
		cmocka_unit_test(loader_sees_psize_error),
		cmocka_unit_test(loader_waits_out_an_erase),
		cmocka_unit_test(bad_access_faults),
		cmocka_unit_test(step_and_leave_for_flash),
		cmocka_unit_test(reloaded_code_is_seen),
		cmocka_unit_test(core_sees_debugger_writes_while_running),
		cmocka_unit_test(core_requested_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
