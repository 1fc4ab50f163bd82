/* The simulated STM32F405 (see f4_model.h). Facts from
 * ../shared/reference/stlink-swd-stm32f4.md §3–§6 (RM0090, PM0059, DS8626 as
 * excerpted there, ARMv7-M debug registers). Where the sheet is silent the
 * choice is marked [inferred] and kept conservative: it should make a tool
 * fail rather than succeed where silicon might not.
 *
 * Time: the model keeps its own "now" and catches up with the shared clock
 * whenever it is called; f4_advance_us does not move the clock (whoever
 * spends time advances it), except when the AHB stalls an AP access, which
 * is time the debugger really waits. */
#include "bench/f4_model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/f4_cpu.h"
#include "crc.h"

/* ---- addresses and bits ------------------------------------------------ */

#define SYSMEM_BASE 0x1FFF0000u
#define SYSMEM_SIZE (30u * 1024u)
#define OTP_BASE 0x1FFF7800u
#define OTP_SIZE 528u
#define OTP_LOCK_OFFSET 512u
#define UID_BASE 0x1FFF7A10u
#define FLASH_SIZE_REG 0x1FFF7A20u /* word; the KB count is its upper half at 0x1FFF7A22 */
#define SYSINFO_END 0x1FFF7A30u
#define OPTBYTES_BASE 0x1FFFC000u
#define OPTBYTES_SIZE 16u

#define FLASH_REGS 0x40023C00u
#define FLASH_ACR 0x00u
#define FLASH_KEYR 0x04u
#define FLASH_OPTKEYR 0x08u
#define FLASH_SR 0x0Cu
#define FLASH_CR 0x10u
#define FLASH_OPTCR 0x14u
#define RCC_BASE 0x40023800u
#define CRC_BASE 0x40023000u
#define IWDG_BASE 0x40003000u
#define PWR_BASE 0x40007000u
#define GPIO_BASE 0x40020000u
#define GPIO_PORTS 9u
#define BKPSRAM_BASE 0x40024000u
#define BKPSRAM_SIZE 4096u
#define PERIPH_BLOCK 0x400u

#define SCS_BASE 0xE000E000u
#define SCS_SIZE 0x1000u
#define CPUID_ADDR 0xE000ED00u
#define AIRCR_ADDR 0xE000ED0Cu
#define CFSR_ADDR 0xE000ED28u
#define HFSR_ADDR 0xE000ED2Cu
#define DFSR_ADDR 0xE000ED30u
#define BFAR_ADDR 0xE000ED38u
#define DHCSR_ADDR 0xE000EDF0u
#define DCRSR_ADDR 0xE000EDF4u
#define DCRDR_ADDR 0xE000EDF8u
#define DEMCR_ADDR 0xE000EDFCu
#define DBGMCU_BASE 0xE0042000u
#define DWT_CTRL_ADDR 0xE0001000u
#define FP_CTRL_ADDR 0xE0002000u
#define PPB_BASE 0xE0000000u
#define PPB_END 0xE0100000u

#define KEY1 0x45670123u
#define KEY2 0xCDEF89ABu
#define OPTKEY1 0x08192A3Bu
#define OPTKEY2 0x4C5D6E7Fu

#define SR_EOP (1u << 0)
#define SR_OPERR (1u << 1)
#define SR_WRPERR (1u << 4)
#define SR_PGAERR (1u << 5)
#define SR_PGPERR (1u << 6)
#define SR_PGSERR (1u << 7)
#define SR_RDERR (1u << 8)
#define SR_BSY (1u << 16)
#define SR_W1C (SR_EOP | SR_OPERR | SR_WRPERR | SR_PGAERR | SR_PGPERR | SR_PGSERR | SR_RDERR)

#define CR_PG (1u << 0)
#define CR_SER (1u << 1)
#define CR_MER (1u << 2)
#define CR_SNB_SHIFT 3
#define CR_SNB_MASK (0xFu << CR_SNB_SHIFT)
#define CR_PSIZE_SHIFT 8
#define CR_PSIZE_MASK (3u << CR_PSIZE_SHIFT)
#define CR_STRT (1u << 16)
#define CR_EOPIE (1u << 24)
#define CR_ERRIE (1u << 25)
#define CR_LOCK (1u << 31)
#define CR_WRITABLE (CR_PG | CR_SER | CR_MER | CR_SNB_MASK | CR_PSIZE_MASK | CR_EOPIE | CR_ERRIE)

#define OPTCR_OPTLOCK (1u << 0)
#define OPTCR_OPTSTRT (1u << 1)
/* BOR_LEV, WDG_SW, nRST_STOP, nRST_STDBY, RDP, nWRP: what the option bytes hold */
#define OPTCR_STORED 0x0FFFFFECu
#define OPTCR_RDP(v) (((v) >> 8) & 0xFFu)
#define OPTCR_NWRP(v) (((v) >> 16) & 0xFFFu)
#define RDP_LEVEL0 0xAAu
#define RDP_LEVEL2 0xCCu

#define DBGKEY 0xA05Fu
#define C_DEBUGEN (1u << 0)
#define C_HALT (1u << 1)
#define C_STEP (1u << 2)
#define C_MASKINTS (1u << 3)
#define C_SNAPSTALL (1u << 5)
#define DHCSR_CTRL (C_DEBUGEN | C_HALT | C_STEP | C_MASKINTS | C_SNAPSTALL)
#define S_REGRDY (1u << 16)
#define S_HALT (1u << 17)
#define S_LOCKUP (1u << 19)
#define S_RETIRE_ST (1u << 24)
#define S_RESET_ST (1u << 25)

#define DFSR_HALTED (1u << 0)
#define DFSR_BKPT (1u << 1)
#define DFSR_VCATCH (1u << 3)
#define DFSR_MASK 0x1Fu

#define DEMCR_VC_CORERESET (1u << 0)
#define DEMCR_VC_HARDERR (1u << 10)
#define DEMCR_MASK 0x010F07F1u

#define AIRCR_VECTKEY 0x05FAu
#define AIRCR_VECTKEYSTAT 0xFA05u
#define AIRCR_VECTRESET (1u << 0)
#define AIRCR_SYSRESETREQ (1u << 2)

#define CFSR_UNDEFINSTR (1u << 16)
#define CFSR_PRECISERR (1u << 9)
#define CFSR_BFARVALID (1u << 15)
#define HFSR_FORCED (1u << 30)

#define XPSR_T 0x01000000u

/* The app turns PA13/PA14 into GPIO early in its start-up [inferred figure]. */
#define APP_SWD_LOCK_US 2000u
/* An AP access the AHB would stall longer than this comes back WAIT (the
 * probe gives up) instead of silently waiting [inferred]. */
#define AP_STALL_LIMIT_US 1000u
/* After reset the core runs on the 16 MHz HSI; a Cortex-M4 retires about
 * one simple instruction per cycle from SRAM. */
#define INSTRUCTIONS_PER_US 16u
#define CPU_SLICE_US 1000u

static const uint32_t sector_offsets[13] = {
	0x00000, 0x04000, 0x08000, 0x0C000, 0x10000, 0x20000, 0x40000,
	0x60000, 0x80000, 0xA0000, 0xC0000, 0xE0000, 0x100000,
};
enum { SECTOR_COUNT = 12 };

/* ---- state -------------------------------------------------------------- */

enum core_state {
	CORE_OFF,        /* unpowered */
	CORE_IN_RESET,   /* NRST held low */
	CORE_HALTED,
	CORE_RUN_RAM,    /* emulated: debugger-loaded code in SRAM/CCM */
	CORE_RUN_APP,    /* "the application" from flash: not emulated */
	CORE_LOCKUP,
};

enum flash_op_kind { OP_NONE, OP_PROGRAM, OP_SECTOR_ERASE, OP_MASS_ERASE, OP_OPTIONS };

struct flash_op {
	enum flash_op_kind kind;
	unsigned sector;
	uint64_t until_us;
	uint32_t new_options;   /* OP_OPTIONS */
	bool regression;        /* OP_OPTIONS: RDP 1 -> 0 mass-erases first */
};

struct flash_ctl {
	uint32_t acr, sr, cr, optcr;
	unsigned key_stage, optkey_stage;
	bool keys_dead, optkeys_dead;   /* wrong sequence: locked until reset */
	struct flash_op op;
};

struct debug_regs {
	uint32_t dhcsr_ctrl, demcr, dfsr, dcrdr;
	bool reset_st, retire_st;
	uint32_t dbgmcu_cr, dbgmcu_apb1_fz, dbgmcu_apb2_fz;
	uint32_t fp_ctrl;
};

enum { RCC_WORDS = 64, GPIO_WORDS = 10, SCS_WORDS = SCS_SIZE / 4 };

struct periph_regs {
	uint32_t rcc[RCC_WORDS];
	uint32_t gpio[GPIO_PORTS][GPIO_WORDS];
	uint32_t pwr_cr, pwr_csr;
	uint32_t crc_dr, crc_idr;
	uint32_t iwdg_pr, iwdg_rlr;
	bool iwdg_started;
	uint32_t scs[SCS_WORDS];   /* plain SCS registers; the special ones are decoded */
};

struct f4_model {
	struct f4_model_config cfg;
	struct bench_clock own_clock;
	struct bench_clock *clock;
	uint64_t now_us;

	uint8_t *flash, *sram, *ccm;
	uint8_t sysmem[SYSMEM_SIZE];
	uint8_t otp[OTP_SIZE];
	uint8_t bkpsram[BKPSRAM_SIZE];
	uint32_t options;        /* programmed option bytes, OPTCR layout */
	uint8_t rdp_latched;     /* RDP as loaded at the last reset */

	struct flash_ctl fl;
	struct debug_regs dbg;
	struct periph_regs per;

	enum core_state core;
	struct f4_core_regs regs;
	uint64_t app_started_us;
	bool nrst_probe_low, nrst_manual_low;
	bool attached;
	bool debugger_seen;      /* sticky until power-on: RDP1 blocks flash from then on */
	bool cpu_stop_requested;
	uint64_t cpu_slice_end_us;
	bool core_executing;       /* inside f4_cpu_run: core-side effects wait */
	uint32_t pending_aircr;    /* a reset the running core asked for */

	struct f4_cpu *cpu;
	struct f4_stats stats;
};

enum initiator { BY_DEBUGGER, BY_CORE };

/* ---- small helpers ------------------------------------------------------ */

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t lane_mask(uint32_t addr, unsigned width)
{
	uint32_t bits = width >= 4 ? 0xFFFFFFFFu : (1u << (8 * width)) - 1u;
	return bits << (8 * (addr & 3u));
}

static uint32_t lane_extract(uint32_t word, uint32_t addr, unsigned width)
{
	return (word & lane_mask(addr, width)) >> (8 * (addr & 3u));
}

static bool in_range(uint32_t addr, uint32_t base, uint32_t size)
{
	return addr >= base && addr - base < size;
}

/* Flash at 0x08000000 and its boot alias at 0 (BOOT0 low). */
static bool flash_offset(uint32_t addr, uint32_t *off)
{
	if (in_range(addr, F4_FLASH_BASE, F4_FLASH_SIZE)) {
		*off = addr - F4_FLASH_BASE;
		return true;
	}
	if (addr < F4_FLASH_SIZE) {
		*off = addr;
		return true;
	}
	return false;
}

static unsigned sector_of(uint32_t off)
{
	unsigned s = 0;
	while (s + 1 < SECTOR_COUNT && off >= sector_offsets[s + 1])
		s++;
	return s;
}

static uint32_t sector_size(unsigned s)
{
	return sector_offsets[s + 1] - sector_offsets[s];
}

static bool rdp_blocks_flash(const struct f4_model *m)
{
	return m->rdp_latched != RDP_LEVEL0 && m->debugger_seen;
}

static bool sector_write_protected(const struct f4_model *m, unsigned s)
{
	return (OPTCR_NWRP(m->options) & (1u << s)) == 0;
}

static bool any_sector_write_protected(const struct f4_model *m)
{
	return OPTCR_NWRP(m->options) != 0xFFFu;
}

static unsigned cr_psize(const struct f4_model *m)
{
	return (m->fl.cr & CR_PSIZE_MASK) >> CR_PSIZE_SHIFT;
}

static bool flash_busy(const struct f4_model *m)
{
	return m->fl.op.kind != OP_NONE;
}

static bool powered(const struct f4_model *m)
{
	return m->cfg.vdd > 1.7;
}

/* ---- option bytes, system memory ---------------------------------------- */

/* RM0090 option bytes: RDP/USER in the low half of 0x1FFFC000, nWRP in the
 * low half of 0x1FFFC008. The upper halves read as the complements
 * [inferred: the sheet does not give them]. */
static void option_bytes_image(const struct f4_model *m, uint8_t out[OPTBYTES_SIZE])
{
	uint16_t user_rdp = (uint16_t)((m->options & 0xFFECu) | 0x1u);
	uint16_t nwrp = (uint16_t)(0xF000u | OPTCR_NWRP(m->options));
	memset(out, 0xFF, OPTBYTES_SIZE);
	put_le32(out, (uint32_t)user_rdp | (uint32_t)(uint16_t)~user_rdp << 16);
	put_le32(out + 8, (uint32_t)nwrp | (uint32_t)(uint16_t)~nwrp << 16);
}

/* ST's bootloader is not ours to ship; a deterministic stand-in with a
 * plausible vector table makes the area read as "something, not blank". */
static void fill_system_memory(uint8_t *sysmem)
{
	uint32_t x = 0x1FFF0000u;
	for (size_t i = 0; i < SYSMEM_SIZE; i += 4) {
		x = x * 1664525u + 1013904223u;
		put_le32(sysmem + i, x);
	}
	put_le32(sysmem, 0x20002F88u);
	put_le32(sysmem + 4, 0x1FFF2F41u);
}

/* ---- time and flash operations ------------------------------------------ */

static void erase_flash_range(struct f4_model *m, uint32_t off, uint32_t len)
{
	memset(m->flash + off, 0xFF, len);
}

static void set_eop(struct f4_model *m)
{
	/* RM0090: EOP is set only when end-of-operation interrupts are enabled */
	if (m->fl.cr & CR_EOPIE)
		m->fl.sr |= SR_EOP;
}

static void finish_flash_op(struct f4_model *m)
{
	struct flash_op *op = &m->fl.op;
	switch (op->kind) {
	case OP_SECTOR_ERASE:
		erase_flash_range(m, sector_offsets[op->sector], sector_size(op->sector));
		break;
	case OP_MASS_ERASE:
		erase_flash_range(m, 0, F4_FLASH_SIZE);
		break;
	case OP_OPTIONS:
		if (op->regression) {
			erase_flash_range(m, 0, F4_FLASH_SIZE);
			memset(m->bkpsram, 0, sizeof m->bkpsram);
		}
		m->options = op->new_options & OPTCR_STORED;
		m->stats.option_writes++;
		break;
	case OP_PROGRAM:
	case OP_NONE:
		break;
	}
	if (op->kind == OP_SECTOR_ERASE || op->kind == OP_MASS_ERASE)
		m->fl.cr &= ~CR_STRT;
	if (op->kind == OP_OPTIONS)
		m->fl.optcr &= ~OPTCR_OPTSTRT;
	if (op->kind != OP_NONE)
		set_eop(m);
	op->kind = OP_NONE;
}

static void settle_flash(struct f4_model *m)
{
	if (flash_busy(m) && m->fl.op.until_us <= m->now_us)
		finish_flash_op(m);
}

static void start_flash_op(struct f4_model *m, enum flash_op_kind kind, uint64_t duration_us)
{
	m->fl.op.kind = kind;
	m->fl.op.until_us = m->now_us + duration_us;
}

static bool app_has_locked_swd(const struct f4_model *m)
{
	return m->cfg.app_locks_swd && m->core == CORE_RUN_APP &&
	       m->now_us >= m->app_started_us + APP_SWD_LOCK_US;
}

static void run_until(struct f4_model *m, uint64_t target_us);

/* Brings the model up to the shared clock and drops a debug session that
 * the running application has cut off. */
static void sync_model(struct f4_model *m)
{
	if (m->clock->now_us > m->now_us)
		run_until(m, m->clock->now_us);
	settle_flash(m);
	if (app_has_locked_swd(m))
		m->attached = false;
}

/* The debugger's AHB access waits for the flash: the time is the
 * debugger's, so it goes on the shared clock. */
static bool debugger_waits_for_flash(struct f4_model *m)
{
	if (!flash_busy(m))
		return true;
	uint64_t wait_us = m->fl.op.until_us > m->now_us ? m->fl.op.until_us - m->now_us : 0;
	if (wait_us > AP_STALL_LIMIT_US)
		return false;
	bench_clock_advance(m->clock, wait_us);
	if (m->clock->now_us < m->fl.op.until_us)
		m->clock->now_us = m->fl.op.until_us;
	run_until(m, m->clock->now_us);
	settle_flash(m);
	return true;
}

/* The core's access waits for the flash: the core stalls, time passes. */
static void core_waits_for_flash(struct f4_model *m)
{
	if (!flash_busy(m))
		return;
	if (m->fl.op.until_us > m->now_us)
		m->now_us = m->fl.op.until_us;
	finish_flash_op(m);
}

/* ---- reset and core state ------------------------------------------------ */

static void reset_flash_interface(struct f4_model *m)
{
	/* A reset in the middle of an operation aborts it; the contents stay
	 * as they were [inferred: real cells are left undefined]. */
	memset(&m->fl, 0, sizeof m->fl);
	m->fl.cr = CR_LOCK;
	m->fl.optcr = (m->options & OPTCR_STORED) | OPTCR_OPTLOCK;
}

static void reset_peripherals(struct f4_model *m)
{
	reset_flash_interface(m);
	struct periph_regs *p = &m->per;
	/* the SCS (VTOR, CFSR, HFSR, ...) resets with the core; DHCSR, DEMCR
	 * and DFSR live in m->dbg and do not */
	memset(p, 0, sizeof *p);
	/* RCC reset values (RM0090): CR HSION|HSIRDY|HSITRIM=16, PLLCFGR 0x24003010,
	 * AHB1ENR CCMDATARAMEN, CSR reset flags */
	p->rcc[0x00 / 4] = 0x00000083u;
	p->rcc[0x04 / 4] = 0x24003010u;
	p->rcc[0x30 / 4] = 0x00100000u;
	p->rcc[0x74 / 4] = 0x0E000000u;
	p->rcc[0x84 / 4] = 0x20003000u;
	p->crc_dr = 0xFFFFFFFFu;
	p->iwdg_rlr = 0xFFFu;
}

static void set_core_reg(struct f4_model *m, unsigned reg, uint32_t val);

static uint32_t flash_word(const struct f4_model *m, uint32_t off)
{
	return get_le32(m->flash + off);
}

static bool vector_table_valid(const struct f4_model *m)
{
	uint32_t sp = flash_word(m, 0), pc = flash_word(m, 4);
	bool sp_ok = (sp > F4_SRAM_BASE && sp <= F4_SRAM_BASE + F4_SRAM_SIZE) ||
		     (sp > F4_CCM_BASE && sp <= F4_CCM_BASE + F4_CCM_SIZE);
	uint32_t off;
	bool pc_ok = (pc & 1u) && flash_offset(pc & ~1u, &off);
	return sp_ok && pc_ok;
}

/* Entering Debug state sets C_HALT as well as S_HALT: st-flash 1.7 decides
 * "halted" from C_HALT after its loader's BKPT, and works on silicon. */
static void enter_halt(struct f4_model *m, uint32_t reason)
{
	m->core = CORE_HALTED;
	m->dbg.dfsr |= reason;
	m->dbg.dhcsr_ctrl |= C_HALT;
}

/* The core took a fault it cannot handle: no handler we emulate, so it
 * locks up unless the debugger catches hard faults. */
static void core_fault(struct f4_model *m)
{
	m->per.scs[(HFSR_ADDR - SCS_BASE) / 4] |= HFSR_FORCED;
	if ((m->dbg.dhcsr_ctrl & C_DEBUGEN) && (m->dbg.demcr & DEMCR_VC_HARDERR))
		enter_halt(m, DFSR_VCATCH);
	else
		m->core = CORE_LOCKUP;
}

static bool flash_code_at(const struct f4_model *m, uint32_t pc)
{
	uint32_t off;
	if (!flash_offset(pc, &off) || off + 2 > F4_FLASH_SIZE)
		return false;
	/* erased flash decodes as an undefined 32-bit encoding */
	return !(m->flash[off] == 0xFF && m->flash[off + 1] == 0xFF);
}

/* Leaves the halted (or reset) state and runs from the current PC. */
static void start_running(struct f4_model *m)
{
	uint32_t pc = m->regs.r[15] & ~1u;
	m->dbg.retire_st = true;
	if (!(m->regs.xpsr & XPSR_T)) {
		core_fault(m);   /* INVSTATE */
		return;
	}
	if (f4_cpu_executes_at(pc) && m->cpu) {
		m->core = CORE_RUN_RAM;
	} else if (flash_code_at(m, pc)) {
		m->core = CORE_RUN_APP;
		m->app_started_us = m->now_us;
	} else {
		core_fault(m);
	}
}

/* The core comes out of reset: SP and PC from the vector table. */
static void core_leave_reset(struct f4_model *m)
{
	memset(&m->regs, 0, sizeof m->regs);
	uint32_t sp = flash_word(m, 0), pc = flash_word(m, 4);
	m->regs.msp = sp & ~3u;
	m->regs.r[13] = sp & ~3u;
	m->regs.r[14] = 0xFFFFFFFFu;
	m->regs.r[15] = pc & ~1u;
	m->regs.xpsr = (pc & 1u) ? XPSR_T : 0;
	m->dbg.reset_st = true;
	bool debug = (m->dbg.dhcsr_ctrl & C_DEBUGEN) != 0;
	if (debug && (m->dbg.demcr & DEMCR_VC_CORERESET)) {
		enter_halt(m, DFSR_VCATCH);
		return;
	}
	/* A halt request made while the core was held in reset is taken
	 * before the first instruction (DHCSR is not reset by a system reset). */
	if (debug && (m->dbg.dhcsr_ctrl & C_HALT)) {
		enter_halt(m, DFSR_HALTED);
		return;
	}
	if (!vector_table_valid(m)) {
		core_fault(m);
		return;
	}
	start_running(m);
}

static bool nrst_low(const struct f4_model *m)
{
	return m->nrst_probe_low || m->nrst_manual_low;
}

/* System reset: core and peripherals; the debug registers and DBGMCU keep
 * their values; RDP is latched anew from the option bytes. */
static void system_reset(struct f4_model *m)
{
	reset_peripherals(m);
	m->rdp_latched = (uint8_t)OPTCR_RDP(m->options);
	m->dbg.reset_st = true;
	if (nrst_low(m)) {
		m->core = CORE_IN_RESET;
		return;
	}
	core_leave_reset(m);
}

static void power_on_reset(struct f4_model *m)
{
	memset(&m->dbg, 0, sizeof m->dbg);
	m->dbg.fp_ctrl = 0x00000260u;   /* 6 code + 2 literal comparators, disabled */
	m->attached = false;
	m->debugger_seen = false;
	if (!powered(m)) {
		m->core = CORE_OFF;
		return;
	}
	system_reset(m);
}

/* ---- the CPU ------------------------------------------------------------- */

static enum f4_ack bus_read(struct f4_model *m, uint32_t addr, unsigned width, uint32_t *val,
			    enum initiator who);
static enum f4_ack bus_write(struct f4_model *m, uint32_t addr, unsigned width, uint32_t val,
			     enum initiator who);

static enum f4_bus_result core_bus_result(struct f4_model *m, enum f4_ack ack)
{
	if (ack != F4_ACK_OK)
		return F4_BUS_FAULT;
	return m->cpu_stop_requested ? F4_BUS_OK_STOP : F4_BUS_OK;
}

static enum f4_bus_result core_bus_read(void *ctx, uint32_t addr, unsigned width, uint32_t *val)
{
	struct f4_model *m = ctx;
	return core_bus_result(m, bus_read(m, addr, width, val, BY_CORE));
}

static enum f4_bus_result core_bus_write(void *ctx, uint32_t addr, unsigned width, uint32_t val)
{
	struct f4_model *m = ctx;
	return core_bus_result(m, bus_write(m, addr, width, val, BY_CORE));
}

static void record_core_fault(struct f4_model *m, const struct f4_cpu_result *res)
{
	uint32_t *cfsr = &m->per.scs[(CFSR_ADDR - SCS_BASE) / 4];
	if (res->fault_is_data) {
		*cfsr |= CFSR_PRECISERR | CFSR_BFARVALID;
		m->per.scs[(BFAR_ADDR - SCS_BASE) / 4] = res->fault_addr;
	} else {
		*cfsr |= CFSR_UNDEFINSTR;
	}
	core_fault(m);
}

static void after_cpu_stop(struct f4_model *m, const struct f4_cpu_result *res)
{
	switch (res->why) {
	case F4_CPU_BKPT:
		/* without halting debug a BKPT escalates to HardFault */
		if (m->dbg.dhcsr_ctrl & C_DEBUGEN)
			enter_halt(m, DFSR_BKPT);
		else
			core_fault(m);
		break;
	case F4_CPU_FAULT:
		record_core_fault(m, res);
		break;
	case F4_CPU_LEFT_RAM:
		start_running(m);   /* into flash: the application, or a fault */
		break;
	case F4_CPU_BUDGET:
	case F4_CPU_BUS_STOP:
		break;
	}
}

static void apply_aircr(struct f4_model *m, uint32_t val);

static void run_core(struct f4_model *m, uint64_t budget, struct f4_cpu_result *res)
{
	m->cpu_stop_requested = false;
	m->pending_aircr = 0;
	m->core_executing = true;
	f4_cpu_run(m->cpu, &m->regs, budget, res);
	m->core_executing = false;
	m->stats.cpu_instructions += res->instructions;
}

/* Returns true when the core asked for a reset during its run (and it was done). */
static bool apply_pending_reset(struct f4_model *m)
{
	uint32_t val = m->pending_aircr;
	if (!val)
		return false;
	m->pending_aircr = 0;
	apply_aircr(m, val);
	return true;
}

/* One slice of emulated execution, at most until end_us. */
static void run_cpu_slice(struct f4_model *m, uint64_t end_us)
{
	uint64_t start_us = m->now_us;
	uint64_t budget = (end_us - start_us) * INSTRUCTIONS_PER_US;
	struct f4_cpu_result res;
	m->cpu_slice_end_us = end_us;
	run_core(m, budget, &res);
	/* now_us may have moved inside the slice while the core waited on the flash */
	uint64_t spent_us = (res.instructions + INSTRUCTIONS_PER_US - 1) / INSTRUCTIONS_PER_US;
	uint64_t by_instructions = start_us + spent_us;
	if (by_instructions > m->now_us)
		m->now_us = by_instructions;
	if (res.why == F4_CPU_BUS_STOP || res.why == F4_CPU_BUDGET) {
		if (m->now_us < end_us)
			m->now_us = end_us;
	}
	settle_flash(m);
	if (!apply_pending_reset(m))
		after_cpu_stop(m, &res);
}

static void run_until(struct f4_model *m, uint64_t target_us)
{
	while (m->now_us < target_us) {
		settle_flash(m);
		uint64_t step_end = target_us;
		if (flash_busy(m) && m->fl.op.until_us < step_end)
			step_end = m->fl.op.until_us;
		if (m->core == CORE_RUN_RAM) {
			if (step_end > m->now_us + CPU_SLICE_US)
				step_end = m->now_us + CPU_SLICE_US;
			run_cpu_slice(m, step_end);
		} else {
			m->now_us = step_end;
		}
	}
	settle_flash(m);
}

/* ---- the flash controller ----------------------------------------------- */

static enum f4_ack write_keyr(struct f4_model *m, uint32_t val, bool full_word)
{
	struct flash_ctl *fl = &m->fl;
	if (fl->keys_dead)
		return F4_ACK_FAULT;
	uint32_t expected = fl->key_stage == 0 ? KEY1 : KEY2;
	if (!full_word || !(fl->cr & CR_LOCK) || val != expected) {
		/* RM0090: a wrong sequence is a bus error and locks CR until reset */
		fl->keys_dead = true;
		fl->cr |= CR_LOCK;
		return F4_ACK_FAULT;
	}
	if (++fl->key_stage == 2) {
		fl->cr &= ~CR_LOCK;
		fl->key_stage = 0;
	}
	return F4_ACK_OK;
}

static enum f4_ack write_optkeyr(struct f4_model *m, uint32_t val, bool full_word)
{
	struct flash_ctl *fl = &m->fl;
	if (fl->optkeys_dead)
		return F4_ACK_FAULT;
	uint32_t expected = fl->optkey_stage == 0 ? OPTKEY1 : OPTKEY2;
	if (!full_word || !(fl->optcr & OPTCR_OPTLOCK) || val != expected) {
		fl->optkeys_dead = true;
		fl->optcr |= OPTCR_OPTLOCK;
		return F4_ACK_FAULT;
	}
	if (++fl->optkey_stage == 2) {
		fl->optcr &= ~OPTCR_OPTLOCK;
		fl->optkey_stage = 0;
	}
	return F4_ACK_OK;
}

static void start_sector_erase(struct f4_model *m)
{
	unsigned snb = (m->fl.cr & CR_SNB_MASK) >> CR_SNB_SHIFT;
	if (snb >= SECTOR_COUNT) {
		m->fl.sr |= SR_PGSERR;   /* no such sector on a 1 MB F405 [inferred flag] */
		return;
	}
	if (sector_write_protected(m, snb) || rdp_blocks_flash(m)) {
		m->fl.sr |= SR_WRPERR;
		return;
	}
	m->fl.op.sector = snb;
	m->stats.sector_erases++;
	m->stats.psize_of_last_erase = cr_psize(m);
	m->fl.cr |= CR_STRT;
	start_flash_op(m, OP_SECTOR_ERASE, bench_timing_erase_us(&m->cfg.timing, sector_size(snb), cr_psize(m)));
}

static void start_mass_erase(struct f4_model *m)
{
	/* a protected sector makes the whole mass erase fail (reference §5.6) */
	if (any_sector_write_protected(m) || rdp_blocks_flash(m)) {
		m->fl.sr |= SR_WRPERR;
		return;
	}
	m->stats.mass_erases++;
	m->stats.psize_of_last_erase = cr_psize(m);
	m->fl.cr |= CR_STRT;
	start_flash_op(m, OP_MASS_ERASE, bench_timing_mass_erase_us(&m->cfg.timing, cr_psize(m)));
}

static void write_cr(struct f4_model *m, uint32_t val, uint32_t mask)
{
	struct flash_ctl *fl = &m->fl;
	if (fl->cr & CR_LOCK)
		return;   /* locked: writes are ignored */
	if ((val & mask) & CR_LOCK) {
		fl->cr |= CR_LOCK;
		fl->key_stage = 0;
	}
	fl->cr = (fl->cr & ~(mask & CR_WRITABLE)) | (val & mask & CR_WRITABLE);
	if (!((val & mask) & CR_STRT) || flash_busy(m))
		return;
	bool ser = fl->cr & CR_SER, mer = fl->cr & CR_MER;
	if (ser && mer)
		return;   /* RM0090: with MER and SER both set nothing is erased */
	if (ser)
		start_sector_erase(m);
	else if (mer)
		start_mass_erase(m);
}

static void start_option_write(struct f4_model *m)
{
	uint32_t new_options = m->fl.optcr & OPTCR_STORED;
	uint8_t current_rdp = (uint8_t)OPTCR_RDP(m->options);
	if (current_rdp == RDP_LEVEL2)
		return;   /* frozen for good */
	m->fl.op.new_options = new_options;
	m->fl.op.regression = current_rdp != RDP_LEVEL0 && OPTCR_RDP(new_options) == RDP_LEVEL0;
	m->fl.optcr |= OPTCR_OPTSTRT;
	/* rewriting the option sector takes about a 16 KB erase [inferred];
	 * a regression adds the mass erase of main flash */
	uint64_t us = bench_timing_erase_us(&m->cfg.timing, 16u * 1024u, 2);
	if (m->fl.op.regression)
		us += bench_timing_mass_erase_us(&m->cfg.timing, cr_psize(m));
	start_flash_op(m, OP_OPTIONS, us);
}

static void write_optcr(struct f4_model *m, uint32_t val, uint32_t mask)
{
	struct flash_ctl *fl = &m->fl;
	if (fl->optcr & OPTCR_OPTLOCK)
		return;
	uint32_t w = val & mask;
	fl->optcr = (fl->optcr & ~(mask & OPTCR_STORED)) | (w & OPTCR_STORED);
	if (w & OPTCR_OPTLOCK) {
		fl->optcr |= OPTCR_OPTLOCK;
		fl->optkey_stage = 0;
		return;
	}
	if ((w & OPTCR_OPTSTRT) && !flash_busy(m))
		start_option_write(m);
}

static uint32_t flash_reg_read(const struct f4_model *m, uint32_t off)
{
	switch (off) {
	case FLASH_ACR:
		return m->fl.acr;
	case FLASH_SR:
		return m->fl.sr | (flash_busy(m) ? SR_BSY : 0);
	case FLASH_CR:
		return m->fl.cr;
	case FLASH_OPTCR:
		return m->fl.optcr;
	default:
		return 0;   /* KEYR/OPTKEYR are write-only */
	}
}

static enum f4_ack flash_reg_write(struct f4_model *m, uint32_t off, uint32_t val, uint32_t mask,
				   enum initiator who)
{
	bool full = mask == 0xFFFFFFFFu;
	switch (off) {
	case FLASH_ACR:
		m->fl.acr = (m->fl.acr & ~mask) | (val & mask & 0x1F0Fu);
		/* ICRST/DCRST are pulses */
		m->fl.acr &= ~0x1800u;
		return F4_ACK_OK;
	case FLASH_KEYR:
		return write_keyr(m, val, full);
	case FLASH_OPTKEYR:
		return write_optkeyr(m, val, full);
	case FLASH_SR:
		m->fl.sr &= ~(val & mask & SR_W1C);
		return F4_ACK_OK;
	case FLASH_CR:
		/* RM0090: writing CR while BSY stalls the bus until BSY clears */
		if (who == BY_DEBUGGER) {
			if (!debugger_waits_for_flash(m))
				return F4_ACK_WAIT;
		} else {
			core_waits_for_flash(m);
		}
		write_cr(m, val, mask);
		return F4_ACK_OK;
	case FLASH_OPTCR:
		write_optcr(m, val, mask);
		return F4_ACK_OK;
	default:
		return F4_ACK_OK;
	}
}

/* One AHB write into main flash or OTP: a program step under the CR rules. */
static void program_step(struct f4_model *m, uint8_t *cell, bool protected_cell, unsigned width,
			 uint32_t val)
{
	struct flash_ctl *fl = &m->fl;
	static const unsigned psize_width[4] = {1, 2, 4, 4};
	/* Only PG decides: st-flash programs F4 parts with SER still set from
	 * its sector erases (it never clears it), and that works on silicon. */
	if ((fl->cr & CR_LOCK) || !(fl->cr & CR_PG)) {
		fl->sr |= SR_PGSERR;
		return;
	}
	if (psize_width[cr_psize(m)] != width) {
		fl->sr |= SR_PGPERR;
		return;
	}
	if (protected_cell) {
		fl->sr |= SR_WRPERR;
		return;
	}
	for (unsigned i = 0; i < width; i++)
		cell[i] &= (uint8_t)(val >> (8 * i));
	m->stats.words_programmed++;
	m->stats.bytes_programmed += width;
	start_flash_op(m, OP_PROGRAM, m->cfg.timing.word_program_us);
}

static bool otp_block_locked(const struct f4_model *m, uint32_t off)
{
	return off >= OTP_LOCK_OFFSET ? false : m->otp[OTP_LOCK_OFFSET + off / 32] == 0x00;
}

static enum f4_ack wait_flash_for(struct f4_model *m, enum initiator who)
{
	if (who == BY_DEBUGGER)
		return debugger_waits_for_flash(m) ? F4_ACK_OK : F4_ACK_WAIT;
	core_waits_for_flash(m);
	return F4_ACK_OK;
}

static enum f4_ack flash_write(struct f4_model *m, uint32_t off, unsigned width, uint32_t val,
			       enum initiator who)
{
	enum f4_ack ack = wait_flash_for(m, who);
	if (ack != F4_ACK_OK)
		return ack;
	unsigned s = sector_of(off);
	/* RDP1 with a debugger: program is refused like a protected sector
	 * [inferred flag] */
	bool refused = sector_write_protected(m, s) || rdp_blocks_flash(m);
	program_step(m, m->flash + off, refused, width, val);
	return F4_ACK_OK;
}

static enum f4_ack otp_write(struct f4_model *m, uint32_t off, unsigned width, uint32_t val,
			     enum initiator who)
{
	enum f4_ack ack = wait_flash_for(m, who);
	if (ack != F4_ACK_OK)
		return ack;
	program_step(m, m->otp + off, otp_block_locked(m, off), width, val);
	return F4_ACK_OK;
}

/* ---- debug registers ------------------------------------------------------ */

static uint32_t dhcsr_read(struct f4_model *m)
{
	uint32_t v = m->dbg.dhcsr_ctrl;
	if (m->core == CORE_HALTED)
		v |= S_HALT | S_REGRDY;
	if (m->core == CORE_LOCKUP)
		v |= S_LOCKUP;
	if (m->dbg.retire_st || m->core == CORE_RUN_APP || m->core == CORE_RUN_RAM)
		v |= S_RETIRE_ST;
	if (m->dbg.reset_st || m->core == CORE_IN_RESET)
		v |= S_RESET_ST;
	/* sticky bits clear on read */
	m->dbg.reset_st = false;
	m->dbg.retire_st = false;
	return v;
}

static void single_step(struct f4_model *m)
{
	uint32_t pc = m->regs.r[15];
	if (m->cpu && f4_cpu_executes_at(pc)) {
		struct f4_cpu_result res;
		m->cpu_slice_end_us = m->now_us;
		run_core(m, 1, &res);
		if (apply_pending_reset(m))
			return;
		m->core = CORE_HALTED;
		if (res.why == F4_CPU_BKPT) {
			enter_halt(m, DFSR_BKPT);
			return;
		}
		if (res.why == F4_CPU_FAULT) {
			record_core_fault(m, &res);
			return;
		}
	}
	/* code in flash is not emulated: the step retires nothing visible */
	enter_halt(m, DFSR_HALTED);
}

static void dhcsr_write(struct f4_model *m, uint32_t val)
{
	if ((val >> 16) != DBGKEY)
		return;   /* ignored without the key */
	uint32_t ctrl = val & DHCSR_CTRL;
	m->dbg.dhcsr_ctrl = ctrl;
	bool debug = ctrl & C_DEBUGEN;
	if (m->core == CORE_OFF || m->core == CORE_IN_RESET)
		return;   /* remembered: taken when the core leaves reset */
	if (debug && (ctrl & C_HALT)) {
		if (m->core != CORE_HALTED)
			enter_halt(m, DFSR_HALTED);
		return;
	}
	if (m->core != CORE_HALTED)
		return;
	if (debug && (ctrl & C_STEP)) {
		single_step(m);
		return;
	}
	start_running(m);
}

/* DCRSR REGSEL -> our register file. */
static uint32_t *core_reg_slot(struct f4_model *m, unsigned reg)
{
	struct f4_core_regs *r = &m->regs;
	if (reg <= 15)
		return &r->r[reg];
	switch (reg) {
	case 16:
		return &r->xpsr;
	case 17:
		return &r->msp;
	case 18:
		return &r->psp;
	case 20:
		return &r->special;
	case 33:
		return &r->fpscr;
	default:
		break;
	}
	if (reg >= 64 && reg < 96)
		return &r->s[reg - 64];
	return NULL;
}

static bool psp_selected(const struct f4_model *m)
{
	return (m->regs.special >> 24) & 2u;
}

static void set_core_reg(struct f4_model *m, unsigned reg, uint32_t val)
{
	uint32_t *slot = core_reg_slot(m, reg);
	if (!slot)
		return;
	/* the return address is halfword aligned; bit 0 is the Thumb state,
	 * which lives in xPSR */
	*slot = reg == 15 ? val & ~1u : val;
	/* SP is the banked MSP or PSP */
	if (reg == 13) {
		if (psp_selected(m))
			m->regs.psp = val;
		else
			m->regs.msp = val;
	} else if (reg == 17 && !psp_selected(m)) {
		m->regs.r[13] = val;
	} else if (reg == 18 && psp_selected(m)) {
		m->regs.r[13] = val;
	} else if (reg == 20) {
		m->regs.r[13] = psp_selected(m) ? m->regs.psp : m->regs.msp;
	}
}

static void dcrsr_write(struct f4_model *m, uint32_t val)
{
	if (m->core != CORE_HALTED)
		return;   /* S_REGRDY stays 0: the transfer does not happen */
	unsigned reg = val & 0x7Fu;
	if (val & (1u << 16)) {
		set_core_reg(m, reg, m->dbg.dcrdr);
	} else {
		uint32_t *slot = core_reg_slot(m, reg);
		m->dbg.dcrdr = slot ? *slot : 0;
	}
}

static void apply_aircr(struct f4_model *m, uint32_t val)
{
	uint32_t *aircr = &m->per.scs[(AIRCR_ADDR - SCS_BASE) / 4];
	*aircr = val & 0x700u;   /* PRIGROUP */
	if (val & AIRCR_SYSRESETREQ) {
		system_reset(m);
	} else if (val & AIRCR_VECTRESET) {
		/* core only: peripherals and the flash interface keep their state */
		core_leave_reset(m);
	}
}

/* A reset requested by the running core takes effect once the emulator has
 * stopped, so the emulator's register file cannot overwrite the reset state. */
static void aircr_write(struct f4_model *m, uint32_t val)
{
	if ((val >> 16) != AIRCR_VECTKEY)
		return;
	if (m->core_executing) {
		m->pending_aircr = val;
		m->cpu_stop_requested = true;
		return;
	}
	apply_aircr(m, val);
}

static uint32_t scs_read(struct f4_model *m, uint32_t addr)
{
	switch (addr) {
	case CPUID_ADDR:
		return m->cfg.cpuid;
	case AIRCR_ADDR:
		return (uint32_t)AIRCR_VECTKEYSTAT << 16 | (m->per.scs[(AIRCR_ADDR - SCS_BASE) / 4] & 0x700u);
	case DFSR_ADDR:
		return m->dbg.dfsr;
	case DHCSR_ADDR:
		return dhcsr_read(m);
	case DCRSR_ADDR:
		return 0;
	case DCRDR_ADDR:
		return m->dbg.dcrdr;
	case DEMCR_ADDR:
		return m->dbg.demcr;
	default:
		return m->per.scs[(addr - SCS_BASE) / 4];
	}
}

static void scs_write(struct f4_model *m, uint32_t addr, uint32_t val, uint32_t mask,
		      enum initiator who)
{
	uint32_t *plain = &m->per.scs[(addr - SCS_BASE) / 4];
	bool full = mask == 0xFFFFFFFFu;
	switch (addr) {
	case CPUID_ADDR:
		return;
	case AIRCR_ADDR:
		if (full)
			aircr_write(m, val);
		return;
	case CFSR_ADDR:
	case HFSR_ADDR:
		*plain &= ~(val & mask);
		return;
	case DFSR_ADDR:
		m->dbg.dfsr &= ~(val & mask & DFSR_MASK);
		return;
	case DHCSR_ADDR:
		/* halting debug belongs to the debugger; software writes are ignored */
		if (full && who == BY_DEBUGGER)
			dhcsr_write(m, val);
		return;
	case DCRSR_ADDR:
		if (full && who == BY_DEBUGGER)
			dcrsr_write(m, val);
		return;
	case DCRDR_ADDR:
		m->dbg.dcrdr = (m->dbg.dcrdr & ~mask) | (val & mask);
		return;
	case DEMCR_ADDR:
		m->dbg.demcr = (m->dbg.demcr & ~mask) | (val & mask & DEMCR_MASK);
		return;
	default:
		*plain = (*plain & ~mask) | (val & mask);
		return;
	}
}

static uint32_t dbgmcu_read(const struct f4_model *m, uint32_t off)
{
	switch (off) {
	case 0x0:
		return (uint32_t)m->cfg.rev_id << 16 | (m->cfg.dev_id & 0xFFFu);
	case 0x4:
		return m->dbg.dbgmcu_cr;
	case 0x8:
		return m->dbg.dbgmcu_apb1_fz;
	case 0xC:
		return m->dbg.dbgmcu_apb2_fz;
	default:
		return 0;
	}
}

static void dbgmcu_write(struct f4_model *m, uint32_t off, uint32_t val, uint32_t mask)
{
	uint32_t *reg = off == 0x4 ? &m->dbg.dbgmcu_cr : off == 0x8 ? &m->dbg.dbgmcu_apb1_fz
			: off == 0xC ? &m->dbg.dbgmcu_apb2_fz : NULL;
	if (reg)
		*reg = (*reg & ~mask) | (val & mask);
}

/* ---- peripherals --------------------------------------------------------- */

static uint32_t rcc_read(const struct f4_model *m, uint32_t off)
{
	uint32_t v = m->per.rcc[off / 4];
	if (off == 0x00) {
		/* oscillators and PLLs are ready as soon as they are switched on */
		v &= ~((1u << 1) | (1u << 17) | (1u << 25) | (1u << 27));
		v |= (v & 1u) << 1 | (v & (1u << 16)) << 1 | (v & (1u << 24)) << 1 | (v & (1u << 26)) << 1;
	} else if (off == 0x08) {
		v = (v & ~0xCu) | (v & 3u) << 2;   /* SWS follows SW */
	}
	return v;
}

static void crc_feed(struct f4_model *m, uint32_t word)
{
	uint8_t le[4];
	put_le32(le, word);
	m->per.crc_dr = crc32_stm32_update(m->per.crc_dr, le, 4);
}

static bool periph_read(struct f4_model *m, uint32_t addr, uint32_t *word)
{
	uint32_t a = addr & ~3u;
	if (in_range(a, FLASH_REGS, PERIPH_BLOCK)) {
		*word = flash_reg_read(m, a - FLASH_REGS);
	} else if (in_range(a, RCC_BASE, RCC_WORDS * 4)) {
		*word = rcc_read(m, a - RCC_BASE);
	} else if (in_range(a, RCC_BASE, PERIPH_BLOCK)) {
		*word = 0;
	} else if (in_range(a, CRC_BASE, PERIPH_BLOCK)) {
		uint32_t off = a - CRC_BASE;
		*word = off == 0 ? m->per.crc_dr : off == 4 ? m->per.crc_idr : 0;
	} else if (in_range(a, IWDG_BASE, PERIPH_BLOCK)) {
		uint32_t off = a - IWDG_BASE;
		*word = off == 4 ? m->per.iwdg_pr : off == 8 ? m->per.iwdg_rlr : 0;
	} else if (in_range(a, PWR_BASE, PERIPH_BLOCK)) {
		uint32_t off = a - PWR_BASE;
		*word = off == 0 ? m->per.pwr_cr : off == 4 ? m->per.pwr_csr : 0;
	} else if (in_range(a, GPIO_BASE, GPIO_PORTS * PERIPH_BLOCK)) {
		uint32_t off = (a - GPIO_BASE) % PERIPH_BLOCK;
		*word = off / 4 < GPIO_WORDS ? m->per.gpio[(a - GPIO_BASE) / PERIPH_BLOCK][off / 4] : 0;
	} else {
		return false;
	}
	return true;
}

static bool periph_write(struct f4_model *m, uint32_t addr, uint32_t val, uint32_t mask,
			 enum initiator who, enum f4_ack *ack)
{
	uint32_t a = addr & ~3u;
	*ack = F4_ACK_OK;
	if (in_range(a, FLASH_REGS, PERIPH_BLOCK)) {
		*ack = flash_reg_write(m, a - FLASH_REGS, val, mask, who);
	} else if (in_range(a, RCC_BASE, RCC_WORDS * 4)) {
		uint32_t *r = &m->per.rcc[(a - RCC_BASE) / 4];
		*r = (*r & ~mask) | (val & mask);
	} else if (in_range(a, RCC_BASE, PERIPH_BLOCK)) {
		/* reserved RCC space: writes ignored */
	} else if (in_range(a, CRC_BASE, PERIPH_BLOCK)) {
		uint32_t off = a - CRC_BASE;
		if (off == 0 && mask == 0xFFFFFFFFu)
			crc_feed(m, val);
		else if (off == 4)
			m->per.crc_idr = val & 0xFFu;
		else if (off == 8 && (val & mask & 1u))
			m->per.crc_dr = 0xFFFFFFFFu;
	} else if (in_range(a, IWDG_BASE, PERIPH_BLOCK)) {
		uint32_t off = a - IWDG_BASE;
		if (off == 0 && (val & 0xFFFFu) == 0xCCCCu)
			m->per.iwdg_started = true;   /* never bites: nothing here needs it to */
		else if (off == 4)
			m->per.iwdg_pr = val & 7u;
		else if (off == 8)
			m->per.iwdg_rlr = val & 0xFFFu;
	} else if (in_range(a, PWR_BASE, PERIPH_BLOCK)) {
		uint32_t off = a - PWR_BASE;
		if (off == 0)
			m->per.pwr_cr = (m->per.pwr_cr & ~mask) | (val & mask);
	} else if (in_range(a, GPIO_BASE, GPIO_PORTS * PERIPH_BLOCK)) {
		uint32_t off = (a - GPIO_BASE) % PERIPH_BLOCK;
		if (off / 4 < GPIO_WORDS) {
			uint32_t *r = &m->per.gpio[(a - GPIO_BASE) / PERIPH_BLOCK][off / 4];
			*r = (*r & ~mask) | (val & mask);
		}
	} else {
		return false;
	}
	return true;
}

static bool ppb_read(struct f4_model *m, uint32_t addr, uint32_t *word)
{
	uint32_t a = addr & ~3u;
	if (in_range(a, SCS_BASE, SCS_SIZE))
		*word = scs_read(m, a);
	else if (in_range(a, DBGMCU_BASE, 0x10))
		*word = dbgmcu_read(m, a - DBGMCU_BASE);
	else if (a == DWT_CTRL_ADDR)
		*word = 0x40000000u;   /* four comparators */
	else if (a == FP_CTRL_ADDR)
		*word = m->dbg.fp_ctrl;
	else if (a >= PPB_BASE && a < PPB_END)
		*word = 0;   /* ITM, DWT, FPB, TPIU, ROM table: present, nothing we model */
	else
		return false;
	return true;
}

/* FP_CTRL.ENABLE changes only when KEY (bit 1) is written as 1. The
 * comparators themselves are not modeled. */
static void fp_ctrl_write(struct f4_model *m, uint32_t val)
{
	if (val & 2u)
		m->dbg.fp_ctrl = (m->dbg.fp_ctrl & ~1u) | (val & 1u);
}

static bool ppb_write(struct f4_model *m, uint32_t addr, uint32_t val, uint32_t mask,
		      enum initiator who)
{
	uint32_t a = addr & ~3u;
	if (in_range(a, SCS_BASE, SCS_SIZE))
		scs_write(m, a, val, mask, who);
	else if (in_range(a, DBGMCU_BASE, 0x10))
		dbgmcu_write(m, a - DBGMCU_BASE, val, mask);
	else if (a == FP_CTRL_ADDR)
		fp_ctrl_write(m, val & mask);
	else if (a < PPB_BASE || a >= PPB_END)
		return false;
	return true;
}

/* ---- the bus -------------------------------------------------------------- */

static uint32_t read_bytes(const uint8_t *base, uint32_t off, unsigned width)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < width; i++)
		v |= (uint32_t)base[off + i] << (8 * i);
	return v;
}

static void write_bytes(uint8_t *base, uint32_t off, unsigned width, uint32_t val)
{
	for (unsigned i = 0; i < width; i++)
		base[off + i] = (uint8_t)(val >> (8 * i));
}

static bool sysinfo_byte(const struct f4_model *m, uint32_t addr, uint8_t *b)
{
	if (in_range(addr, UID_BASE, 12)) {
		*b = m->cfg.uid[addr - UID_BASE];
	} else if (in_range(addr, FLASH_SIZE_REG, 4)) {
		uint32_t word = (uint32_t)m->cfg.flash_kb << 16 | 0xFFFFu;
		*b = (uint8_t)(word >> (8 * (addr - FLASH_SIZE_REG)));
	} else if (in_range(addr, OTP_BASE + OTP_SIZE, SYSINFO_END - (OTP_BASE + OTP_SIZE))) {
		*b = 0xFF;
	} else {
		return false;
	}
	return true;
}

static bool system_area_read(const struct f4_model *m, uint32_t addr, unsigned width, uint32_t *val)
{
	if (in_range(addr, SYSMEM_BASE, SYSMEM_SIZE)) {
		*val = read_bytes(m->sysmem, addr - SYSMEM_BASE, width);
		return true;
	}
	if (in_range(addr, OTP_BASE, OTP_SIZE)) {
		*val = read_bytes(m->otp, addr - OTP_BASE, width);
		return true;
	}
	if (in_range(addr, OPTBYTES_BASE, OPTBYTES_SIZE)) {
		uint8_t ob[OPTBYTES_SIZE];
		option_bytes_image(m, ob);
		*val = read_bytes(ob, addr - OPTBYTES_BASE, width);
		return true;
	}
	uint32_t v = 0;
	for (unsigned i = 0; i < width; i++) {
		uint8_t b;
		if (!sysinfo_byte(m, addr + i, &b))
			return false;
		v |= (uint32_t)b << (8 * i);
	}
	*val = v;
	return true;
}

/* A core polling SR while BSY spins until the operation ends. Rather than
 * emulate every iteration, the model moves to the end of the operation when
 * that falls inside the current slice, and otherwise ends the slice: the
 * loop sees BSY again when it resumes. */
static enum f4_ack core_reads_busy_sr(struct f4_model *m, uint32_t addr, unsigned width, uint32_t *val)
{
	if (m->fl.op.until_us <= m->cpu_slice_end_us) {
		if (m->fl.op.until_us > m->now_us)
			m->now_us = m->fl.op.until_us;
		finish_flash_op(m);
	} else {
		m->cpu_stop_requested = true;
	}
	*val = lane_extract(flash_reg_read(m, FLASH_SR), addr, width);
	return F4_ACK_OK;
}

static enum f4_ack bus_read(struct f4_model *m, uint32_t addr, unsigned width, uint32_t *val,
			    enum initiator who)
{
	uint32_t off, word;
	if (flash_offset(addr, &off)) {
		if (rdp_blocks_flash(m))
			return F4_ACK_FAULT;
		enum f4_ack ack = wait_flash_for(m, who);
		if (ack != F4_ACK_OK)
			return ack;
		*val = read_bytes(m->flash, off, width);
		return F4_ACK_OK;
	}
	if (in_range(addr, F4_SRAM_BASE, F4_SRAM_SIZE)) {
		*val = read_bytes(m->sram, addr - F4_SRAM_BASE, width);
		return F4_ACK_OK;
	}
	if (in_range(addr, F4_CCM_BASE, F4_CCM_SIZE)) {
		*val = read_bytes(m->ccm, addr - F4_CCM_BASE, width);
		return F4_ACK_OK;
	}
	if (in_range(addr, BKPSRAM_BASE, BKPSRAM_SIZE)) {
		if (rdp_blocks_flash(m))
			return F4_ACK_FAULT;
		*val = read_bytes(m->bkpsram, addr - BKPSRAM_BASE, width);
		return F4_ACK_OK;
	}
	if (system_area_read(m, addr, width, val))
		return F4_ACK_OK;
	if (who == BY_CORE && (addr & ~3u) == FLASH_REGS + FLASH_SR && flash_busy(m))
		return core_reads_busy_sr(m, addr, width, val);
	if (periph_read(m, addr, &word) || ppb_read(m, addr, &word)) {
		*val = lane_extract(word, addr, width);
		return F4_ACK_OK;
	}
	return F4_ACK_FAULT;
}

static enum f4_ack bus_write(struct f4_model *m, uint32_t addr, unsigned width, uint32_t val,
			     enum initiator who)
{
	uint32_t off;
	if (flash_offset(addr, &off))
		return flash_write(m, off, width, val, who);
	if (in_range(addr, F4_SRAM_BASE, F4_SRAM_SIZE) || in_range(addr, F4_CCM_BASE, F4_CCM_SIZE)) {
		if (in_range(addr, F4_SRAM_BASE, F4_SRAM_SIZE))
			write_bytes(m->sram, addr - F4_SRAM_BASE, width, val);
		else
			write_bytes(m->ccm, addr - F4_CCM_BASE, width, val);
		if (who == BY_DEBUGGER)
			f4_cpu_code_changed(m->cpu, addr, width);
		return F4_ACK_OK;
	}
	if (in_range(addr, BKPSRAM_BASE, BKPSRAM_SIZE)) {
		if (rdp_blocks_flash(m))
			return F4_ACK_FAULT;
		write_bytes(m->bkpsram, addr - BKPSRAM_BASE, width, val);
		return F4_ACK_OK;
	}
	if (in_range(addr, OTP_BASE, OTP_SIZE))
		return otp_write(m, addr - OTP_BASE, width, val, who);
	if (in_range(addr, SYSMEM_BASE, SYSMEM_SIZE) || in_range(addr, OPTBYTES_BASE, OPTBYTES_SIZE) ||
	    in_range(addr, OTP_BASE + OTP_SIZE, SYSINFO_END - (OTP_BASE + OTP_SIZE)))
		return F4_ACK_OK;   /* read-only memory: the write has no effect */
	uint32_t shifted = val << (8 * (addr & 3u));
	uint32_t mask = lane_mask(addr, width);
	enum f4_ack ack;
	if (periph_write(m, addr, shifted, mask, who, &ack))
		return ack;
	if (ppb_write(m, addr, shifted, mask, who))
		return F4_ACK_OK;
	return F4_ACK_FAULT;
}

/* ---- public: life cycle ------------------------------------------------- */

void f4_model_config_defaults(struct f4_model_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->dev_id = 0x413;
	cfg->rev_id = 0x1007;
	cfg->dpidr = 0x2BA01477u;
	cfg->cpuid = 0x410FC241u;
	cfg->flash_kb = 1024;
	static const uint8_t uid[12] = {0x33, 0x00, 0x2B, 0x00, 0x12, 0x47, 0x33, 0x30,
					0x38, 0x32, 0x35, 0x36};
	memcpy(cfg->uid, uid, sizeof uid);
	cfg->vdd = 3.3;
	cfg->swd_wired = true;
	cfg->nrst_wired = true;
	cfg->app_locks_swd = false;
	cfg->optcr = 0x0FFFAAEDu;
	cfg->flash_image = NULL;
	cfg->clock = NULL;
	bench_timing_defaults(&cfg->timing);
}

static void *alloc_page_aligned(size_t size)
{
	void *p = aligned_alloc(4096, size);
	if (p)
		memset(p, 0, size);
	return p;
}

struct f4_model *f4_model_new(const struct f4_model_config *cfg, struct vr_error *err)
{
	struct f4_model *m = calloc(1, sizeof *m);
	if (!m) {
		vr_fail(err, VR_ERR_NOMEM, "out of memory creating the simulated STM32F405");
		return NULL;
	}
	m->cfg = *cfg;
	m->clock = cfg->clock ? cfg->clock : &m->own_clock;
	m->now_us = m->clock->now_us;
	m->flash = malloc(F4_FLASH_SIZE);
	/* the core maps these page-aligned buffers as its own memory */
	m->sram = alloc_page_aligned(F4_SRAM_SIZE);
	m->ccm = alloc_page_aligned(F4_CCM_SIZE);
	if (!m->flash || !m->sram || !m->ccm) {
		f4_model_free(m);
		vr_fail(err, VR_ERR_NOMEM, "out of memory creating the simulated STM32F405");
		return NULL;
	}
	if (cfg->flash_image)
		memcpy(m->flash, cfg->flash_image, F4_FLASH_SIZE);
	else
		memset(m->flash, 0xFF, F4_FLASH_SIZE);
	m->cfg.flash_image = NULL;
	fill_system_memory(m->sysmem);
	memset(m->otp, 0xFF, sizeof m->otp);
	m->options = cfg->optcr & OPTCR_STORED;
	struct f4_cpu_bus bus = {.ctx = m, .read = core_bus_read, .write = core_bus_write};
	m->cpu = f4_cpu_new(m->sram, F4_SRAM_SIZE, m->ccm, F4_CCM_SIZE, &bus, err);
	if (!m->cpu) {
		f4_model_free(m);
		return NULL;
	}
	power_on_reset(m);
	return m;
}

void f4_model_free(struct f4_model *m)
{
	if (!m)
		return;
	f4_cpu_free(m->cpu);
	free(m->flash);
	free(m->sram);
	free(m->ccm);
	free(m);
}

/* ---- public: SWD -------------------------------------------------------- */

static bool dp_answers(const struct f4_model *m)
{
	if (!powered(m) || !m->cfg.swd_wired)
		return false;
	if (m->rdp_latched == RDP_LEVEL2)
		return false;   /* JTAG/SWD disabled for good */
	return !app_has_locked_swd(m);
}

enum f4_ack f4_swd_connect(struct f4_model *m, uint32_t *dpidr)
{
	sync_model(m);
	if (!dp_answers(m)) {
		m->attached = false;
		return F4_ACK_NONE;
	}
	m->attached = true;
	m->debugger_seen = true;
	if (dpidr)
		*dpidr = m->cfg.dpidr;
	return F4_ACK_OK;
}

bool f4_swd_attached(const struct f4_model *m)
{
	return m->attached && dp_answers(m);
}

void f4_swd_disconnect(struct f4_model *m)
{
	m->attached = false;
}

static bool access_args_ok(uint32_t addr, size_t len, unsigned width)
{
	if (width != 1 && width != 2 && width != 4)
		return false;
	if (addr % width != 0 || len % width != 0)
		return false;
	return (uint64_t)addr + len <= 0x100000000ull;
}

enum f4_ack f4_mem_read(struct f4_model *m, uint32_t addr, void *buf, size_t len, unsigned width,
			uint32_t *fault_addr)
{
	sync_model(m);
	if (!f4_swd_attached(m))
		return F4_ACK_NONE;
	if (!access_args_ok(addr, len, width)) {
		if (fault_addr)
			*fault_addr = addr;
		return F4_ACK_FAULT;
	}
	uint8_t *out = buf;
	for (size_t i = 0; i < len; i += width) {
		uint32_t val = 0;
		enum f4_ack ack = bus_read(m, addr + (uint32_t)i, width, &val, BY_DEBUGGER);
		if (ack != F4_ACK_OK) {
			if (fault_addr)
				*fault_addr = addr + (uint32_t)i;
			return ack;
		}
		write_bytes(out, (uint32_t)i, width, val);
	}
	return F4_ACK_OK;
}

enum f4_ack f4_mem_write(struct f4_model *m, uint32_t addr, const void *buf, size_t len, unsigned width,
			 uint32_t *fault_addr)
{
	sync_model(m);
	if (!f4_swd_attached(m))
		return F4_ACK_NONE;
	if (!access_args_ok(addr, len, width)) {
		if (fault_addr)
			*fault_addr = addr;
		return F4_ACK_FAULT;
	}
	const uint8_t *in = buf;
	for (size_t i = 0; i < len; i += width) {
		uint32_t val = read_bytes(in, (uint32_t)i, width);
		enum f4_ack ack = bus_write(m, addr + (uint32_t)i, width, val, BY_DEBUGGER);
		if (ack != F4_ACK_OK) {
			if (fault_addr)
				*fault_addr = addr + (uint32_t)i;
			return ack;
		}
	}
	return F4_ACK_OK;
}

enum f4_ack f4_core_reg_read(struct f4_model *m, unsigned reg, uint32_t *val)
{
	sync_model(m);
	if (!f4_swd_attached(m))
		return F4_ACK_NONE;
	uint32_t *slot = core_reg_slot(m, reg);
	if (m->core != CORE_HALTED || !slot)
		return F4_ACK_FAULT;
	*val = *slot;
	m->dbg.dcrdr = *slot;
	return F4_ACK_OK;
}

enum f4_ack f4_core_reg_write(struct f4_model *m, unsigned reg, uint32_t val)
{
	sync_model(m);
	if (!f4_swd_attached(m))
		return F4_ACK_NONE;
	if (m->core != CORE_HALTED || !core_reg_slot(m, reg))
		return F4_ACK_FAULT;
	m->dbg.dcrdr = val;
	set_core_reg(m, reg, val);
	return F4_ACK_OK;
}

/* ---- public: reset, power, time ------------------------------------------ */

static void nrst_changed(struct f4_model *m, bool was_low)
{
	bool low = nrst_low(m);
	if (!powered(m) || low == was_low)
		return;
	if (low) {
		system_reset(m);   /* held: CORE_IN_RESET */
	} else {
		/* the peripherals were held in reset all along: whatever the
		 * debugger wrote to them meanwhile did not stick */
		reset_peripherals(m);
		m->dbg.reset_st = true;
		core_leave_reset(m);
	}
}

void f4_set_nrst(struct f4_model *m, bool asserted_low)
{
	sync_model(m);
	if (!m->cfg.nrst_wired)
		return;
	bool was_low = nrst_low(m);
	m->nrst_probe_low = asserted_low;
	nrst_changed(m, was_low);
}

void f4_manual_nrst(struct f4_model *m, bool asserted_low)
{
	sync_model(m);
	bool was_low = nrst_low(m);
	m->nrst_manual_low = asserted_low;
	nrst_changed(m, was_low);
}

void f4_power_cycle(struct f4_model *m)
{
	sync_model(m);
	power_on_reset(m);
}

void f4_set_vdd(struct f4_model *m, double vdd)
{
	sync_model(m);
	bool was = powered(m);
	m->cfg.vdd = vdd;
	if (was != powered(m))
		power_on_reset(m);
}

double f4_model_vdd(const struct f4_model *m)
{
	return m->cfg.vdd;
}

void f4_system_reset(struct f4_model *m)
{
	sync_model(m);
	if (powered(m))
		system_reset(m);
}

void f4_advance_us(struct f4_model *m, uint64_t us)
{
	uint64_t target = m->now_us + us;
	if (m->clock->now_us > target)
		target = m->clock->now_us;
	run_until(m, target);
	sync_model(m);
}

/* ---- public: backdoor ------------------------------------------------------ */

uint8_t *f4_model_flash(struct f4_model *m)
{
	return m->flash;
}

uint32_t f4_model_optcr(const struct f4_model *m)
{
	return (m->options & OPTCR_STORED) | OPTCR_OPTLOCK;
}

void f4_model_set_optcr(struct f4_model *m, uint32_t optcr)
{
	m->options = optcr & OPTCR_STORED;
	m->rdp_latched = (uint8_t)OPTCR_RDP(m->options);
	if (!flash_busy(m))
		m->fl.optcr = m->options | (m->fl.optcr & OPTCR_OPTLOCK);
}

bool f4_core_halted(const struct f4_model *m)
{
	return m->core == CORE_HALTED;
}

bool f4_app_running(const struct f4_model *m)
{
	return m->core == CORE_RUN_APP;
}

bool f4_core_locked_up(const struct f4_model *m)
{
	return m->core == CORE_LOCKUP;
}

bool f4_core_in_reset(const struct f4_model *m)
{
	return m->core == CORE_IN_RESET;
}

uint8_t *f4_model_sram(struct f4_model *m)
{
	return m->sram;
}

uint8_t *f4_model_otp(struct f4_model *m)
{
	return m->otp;
}

uint64_t f4_model_now_us(const struct f4_model *m)
{
	return m->now_us;
}

void f4_model_stats(const struct f4_model *m, struct f4_stats *out)
{
	*out = m->stats;
}

/* ---- public: save / load ------------------------------------------------- */

/* File: "VRF4MDL\0", u32 version, u32 flash bytes, u32 OTP bytes, u32 option
 * bytes (OPTCR layout), flash, OTP, u32 CRC-32 (zlib) of everything before. */
static const char state_magic[8] = "VRF4MDL";
enum { STATE_VERSION = 1, STATE_HEADER = 24 };

static size_t state_size(void)
{
	return STATE_HEADER + F4_FLASH_SIZE + OTP_SIZE + 4;
}

static void encode_state(const struct f4_model *m, uint8_t *buf)
{
	memcpy(buf, state_magic, 8);
	put_le32(buf + 8, STATE_VERSION);
	put_le32(buf + 12, F4_FLASH_SIZE);
	put_le32(buf + 16, OTP_SIZE);
	put_le32(buf + 20, m->options);
	memcpy(buf + STATE_HEADER, m->flash, F4_FLASH_SIZE);
	memcpy(buf + STATE_HEADER + F4_FLASH_SIZE, m->otp, OTP_SIZE);
	size_t body = STATE_HEADER + F4_FLASH_SIZE + OTP_SIZE;
	put_le32(buf + body, crc32_zlib(buf, body));
}

static bool write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

vr_err f4_model_save(const struct f4_model *m, const char *path, struct vr_error *err)
{
	size_t size = state_size();
	uint8_t *buf = malloc(size);
	char tmp[4096];
	if (!buf)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory saving the simulated chip");
	if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp) {
		free(buf);
		return vr_fail(err, VR_ERR_IO, "state file path too long: %s", path);
	}
	encode_state(m, buf);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int e = errno;
		free(buf);
		return vr_fail(err, VR_ERR_IO, "cannot create %s: %s (is the directory writable?)", tmp,
			       strerror(e));
	}
	bool ok = write_all(fd, buf, size) && fsync(fd) == 0;
	int e = errno;
	ok = close(fd) == 0 && ok;
	free(buf);
	if (!ok || rename(tmp, path) != 0) {
		e = ok ? errno : e;
		unlink(tmp);
		return vr_fail(err, VR_ERR_IO, "cannot write the simulated chip state to %s: %s", path,
			       strerror(e));
	}
	return VR_OK;
}

static vr_err read_state_file(const char *path, uint8_t *buf, size_t size, struct vr_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return vr_fail(err, VR_ERR_INPUT, "cannot open the simulated chip state %s: %s", path,
			       strerror(errno));
	size_t got = fread(buf, 1, size, f);
	int extra = fgetc(f);
	fclose(f);
	if (got != size || extra != EOF)
		return vr_fail(err, VR_ERR_INPUT,
			       "%s is not a simulated chip state of this version (wrong size); "
			       "delete it to start from the scenario", path);
	return VR_OK;
}

vr_err f4_model_load(struct f4_model *m, const char *path, struct vr_error *err)
{
	size_t size = state_size();
	uint8_t *buf = malloc(size);
	if (!buf)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory loading the simulated chip");
	vr_err rc = read_state_file(path, buf, size, err);
	size_t body = size - 4;
	if (rc == VR_OK && (memcmp(buf, state_magic, 8) != 0 || get_le32(buf + 8) != STATE_VERSION ||
			    get_le32(buf + 12) != F4_FLASH_SIZE || get_le32(buf + 16) != OTP_SIZE))
		rc = vr_fail(err, VR_ERR_INPUT,
			     "%s is not a simulated chip state of this version; delete it to start "
			     "from the scenario", path);
	if (rc == VR_OK && get_le32(buf + body) != crc32_zlib(buf, body))
		rc = vr_fail(err, VR_ERR_INPUT, "%s is damaged (checksum mismatch); delete it to start "
			     "from the scenario", path);
	if (rc == VR_OK) {
		memcpy(m->flash, buf + STATE_HEADER, F4_FLASH_SIZE);
		memcpy(m->otp, buf + STATE_HEADER + F4_FLASH_SIZE, OTP_SIZE);
		/* the chip as it powers up with this content */
		m->options = get_le32(buf + 20) & OPTCR_STORED;
		power_on_reset(m);
	}
	free(buf);
	return rc;
}
