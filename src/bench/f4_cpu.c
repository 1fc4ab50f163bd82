/* Cortex-M4 on unicorn 2 (Thumb, M-class). SRAM and CCM are the model's own
 * buffers mapped with uc_mem_map_ptr; everything else the core may touch is
 * MMIO that calls back into the model.
 *
 * Stopping: unicorn leaves PC on the current instruction when uc_emu_stop is
 * called from a memory callback, so the access would run twice on resume.
 * Callbacks therefore only raise a flag, and the block hook stops the core
 * at the next block boundary, where PC is exact. The same hook counts
 * instructions for the statistics.
 *
 * Every run passes unicorn an instruction count: with unicorn 2.0.1, a run
 * without a count after one with a count (a single step) makes it touch
 * its whole 1 GB translation buffer (seconds of page faults, 1 GB of RSS). */
#include "bench/f4_cpu.h"

#include <stdlib.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "bench/f4_model.h"

#define PPB_BASE 0xE0000000u
#define PPB_SIZE 0x00100000u
#define SYSMEM_BASE 0x1FFF0000u
#define SYSMEM_SIZE 0x00010000u
#define PERIPH_BASE 0x40000000u
#define PERIPH_SIZE 0x00080000u
#define AHB2_BASE 0x50000000u
#define AHB2_SIZE 0x00061000u

enum { BKPT_INTNO = 7 };

struct mmio_window {
	struct f4_cpu *cpu;
	uint32_t base;
};

struct f4_cpu {
	uc_engine *uc;
	struct f4_cpu_bus bus;
	uint8_t *sram, *ccm;
	size_t sram_size, ccm_size;
	struct mmio_window windows[6];
	unsigned window_count;
	uint64_t dirty_lo, dirty_hi;   /* written by the debugger since the last run */
	/* per run */
	uint64_t budget, executed;
	bool stop_requested, bkpt, faulted, fault_is_data;
	uint32_t fault_addr;
};

bool f4_cpu_executes_at(uint32_t addr)
{
	return (addr >= F4_SRAM_BASE && addr - F4_SRAM_BASE < F4_SRAM_SIZE) ||
	       (addr >= F4_CCM_BASE && addr - F4_CCM_BASE < F4_CCM_SIZE);
}

static uint8_t *host_pointer(struct f4_cpu *cpu, uint64_t addr)
{
	if (addr >= F4_SRAM_BASE && addr - F4_SRAM_BASE < cpu->sram_size)
		return cpu->sram + (addr - F4_SRAM_BASE);
	if (addr >= F4_CCM_BASE && addr - F4_CCM_BASE < cpu->ccm_size)
		return cpu->ccm + (addr - F4_CCM_BASE);
	return NULL;
}

/* A Thumb-2 instruction is 32 bits when its first halfword starts with
 * 0b11101, 0b11110 or 0b11111. */
static uint64_t thumb_instructions_in(struct f4_cpu *cpu, uint64_t addr, uint32_t size)
{
	uint8_t *code = host_pointer(cpu, addr);
	if (!code || !host_pointer(cpu, addr + size - 1))
		return (size + 1) / 2;
	uint64_t count = 0;
	for (uint32_t off = 0; off + 1 < size; off += 2) {
		uint16_t hw = (uint16_t)(code[off] | code[off + 1] << 8);
		count++;
		if ((hw >> 11) >= 0x1D)
			off += 2;
	}
	return count;
}

static void on_block(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
	struct f4_cpu *cpu = user;
	if (cpu->stop_requested || cpu->faulted || cpu->executed >= cpu->budget) {
		uc_emu_stop(uc);
		return;
	}
	cpu->executed += thumb_instructions_in(cpu, addr, size);
}

static void on_interrupt(uc_engine *uc, uint32_t intno, void *user)
{
	struct f4_cpu *cpu = user;
	if (intno == BKPT_INTNO) {
		cpu->bkpt = true;
	} else if (!cpu->faulted) {
		/* SVC, UDF, exception return: nothing here could service them */
		uint32_t pc = 0;
		uc_reg_read(uc, UC_ARM_REG_PC, &pc);
		cpu->faulted = true;
		cpu->fault_is_data = false;
		cpu->fault_addr = pc;
	}
	uc_emu_stop(uc);
}

static bool on_unmapped(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value,
			void *user)
{
	struct f4_cpu *cpu = user;
	if (!cpu->faulted) {
		cpu->faulted = true;
		cpu->fault_is_data = type != UC_MEM_FETCH_UNMAPPED;
		cpu->fault_addr = (uint32_t)addr;
	}
	return false;
}

static void note_bus_result(struct f4_cpu *cpu, enum f4_bus_result r, uint32_t addr)
{
	if (r == F4_BUS_FAULT && !cpu->faulted) {
		cpu->faulted = true;
		cpu->fault_is_data = true;
		cpu->fault_addr = addr;
	} else if (r == F4_BUS_OK_STOP) {
		cpu->stop_requested = true;
	}
}

static uint64_t on_mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *user)
{
	struct mmio_window *w = user;
	struct f4_cpu *cpu = w->cpu;
	uint32_t addr = w->base + (uint32_t)offset;
	uint32_t val = 0;
	if (size != 1 && size != 2 && size != 4) {
		note_bus_result(cpu, F4_BUS_FAULT, addr);
		return 0;
	}
	note_bus_result(cpu, cpu->bus.read(cpu->bus.ctx, addr, size, &val), addr);
	return val;
}

static void on_mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *user)
{
	struct mmio_window *w = user;
	struct f4_cpu *cpu = w->cpu;
	uint32_t addr = w->base + (uint32_t)offset;
	if (size != 1 && size != 2 && size != 4) {
		note_bus_result(cpu, F4_BUS_FAULT, addr);
		return;
	}
	note_bus_result(cpu, cpu->bus.write(cpu->bus.ctx, addr, size, (uint32_t)value), addr);
}

static bool map_window(struct f4_cpu *cpu, uint32_t base, uint32_t size)
{
	struct mmio_window *w = &cpu->windows[cpu->window_count++];
	w->cpu = cpu;
	w->base = base;
	return uc_mmio_map(cpu->uc, base, size, on_mmio_read, w, on_mmio_write, w) == UC_ERR_OK;
}

static bool map_memory(struct f4_cpu *cpu)
{
	if (uc_mem_map_ptr(cpu->uc, F4_SRAM_BASE, cpu->sram_size, UC_PROT_ALL, cpu->sram) != UC_ERR_OK)
		return false;
	if (uc_mem_map_ptr(cpu->uc, F4_CCM_BASE, cpu->ccm_size, UC_PROT_ALL, cpu->ccm) != UC_ERR_OK)
		return false;
	/* flash and its boot alias, system memory + OTP + option bytes,
	 * APB/AHB1 peripherals, AHB2 (USB OTG), the private peripheral bus */
	return map_window(cpu, 0x00000000u, F4_FLASH_SIZE) && map_window(cpu, F4_FLASH_BASE, F4_FLASH_SIZE) &&
	       map_window(cpu, SYSMEM_BASE, SYSMEM_SIZE) && map_window(cpu, PERIPH_BASE, PERIPH_SIZE) &&
	       map_window(cpu, AHB2_BASE, AHB2_SIZE) && map_window(cpu, PPB_BASE, PPB_SIZE);
}

static bool add_hooks(struct f4_cpu *cpu)
{
	uc_hook h;
	return uc_hook_add(cpu->uc, &h, UC_HOOK_BLOCK, (void *)on_block, cpu, 1, 0) == UC_ERR_OK &&
	       uc_hook_add(cpu->uc, &h, UC_HOOK_INTR, (void *)on_interrupt, cpu, 1, 0) == UC_ERR_OK &&
	       uc_hook_add(cpu->uc, &h, UC_HOOK_MEM_UNMAPPED, (void *)on_unmapped, cpu, 1, 0) == UC_ERR_OK;
}

struct f4_cpu *f4_cpu_new(uint8_t *sram, size_t sram_size, uint8_t *ccm, size_t ccm_size,
			  const struct f4_cpu_bus *bus, struct vr_error *err)
{
	struct f4_cpu *cpu = calloc(1, sizeof *cpu);
	if (!cpu) {
		vr_fail(err, VR_ERR_NOMEM, "out of memory creating the simulated CPU");
		return NULL;
	}
	cpu->bus = *bus;
	cpu->sram = sram;
	cpu->ccm = ccm;
	cpu->sram_size = sram_size;
	cpu->ccm_size = ccm_size;
	uc_err ue = uc_open(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS, &cpu->uc);
	if (ue != UC_ERR_OK) {
		vr_fail(err, VR_ERR_INTERNAL, "unicorn cannot open an ARM M-class CPU: %s", uc_strerror(ue));
		free(cpu);
		return NULL;
	}
	ue = uc_ctl_set_cpu_model(cpu->uc, UC_CPU_ARM_CORTEX_M4);
	if (ue != UC_ERR_OK || !map_memory(cpu) || !add_hooks(cpu)) {
		vr_fail(err, VR_ERR_INTERNAL, "unicorn cannot set up the Cortex-M4 memory map");
		f4_cpu_free(cpu);
		return NULL;
	}
	return cpu;
}

void f4_cpu_free(struct f4_cpu *cpu)
{
	if (!cpu)
		return;
	if (cpu->uc)
		uc_close(cpu->uc);
	free(cpu);
}

void f4_cpu_code_changed(struct f4_cpu *cpu, uint32_t addr, size_t len)
{
	if (len == 0)
		return;
	uint64_t end = (uint64_t)addr + len;
	if (cpu->dirty_hi == 0) {
		cpu->dirty_lo = addr;
		cpu->dirty_hi = end;
		return;
	}
	if (addr < cpu->dirty_lo)
		cpu->dirty_lo = addr;
	if (end > cpu->dirty_hi)
		cpu->dirty_hi = end;
}

static void drop_stale_code(struct f4_cpu *cpu)
{
	if (cpu->dirty_hi == 0)
		return;
	uc_ctl_remove_cache(cpu->uc, cpu->dirty_lo, cpu->dirty_hi);
	cpu->dirty_lo = cpu->dirty_hi = 0;
}

static const int core_reg_ids[16] = {
	UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_R2,  UC_ARM_REG_R3,  UC_ARM_REG_R4,  UC_ARM_REG_R5,
	UC_ARM_REG_R6, UC_ARM_REG_R7, UC_ARM_REG_R8,  UC_ARM_REG_R9,  UC_ARM_REG_R10, UC_ARM_REG_R11,
	UC_ARM_REG_R12, UC_ARM_REG_SP, UC_ARM_REG_LR, UC_ARM_REG_PC,
};

static void load_regs(uc_engine *uc, const struct f4_core_regs *regs)
{
	for (int i = 0; i < 15; i++)
		uc_reg_write(uc, core_reg_ids[i], &regs->r[i]);
	uint32_t control = regs->special >> 24 & 0x7u;
	uint32_t faultmask = regs->special >> 16 & 1u;
	uint32_t basepri = regs->special >> 8 & 0xFFu;
	uint32_t primask = regs->special & 1u;
	uc_reg_write(uc, UC_ARM_REG_CONTROL, &control);
	uc_reg_write(uc, UC_ARM_REG_MSP, &regs->msp);
	uc_reg_write(uc, UC_ARM_REG_PSP, &regs->psp);
	/* SP last: it aliases MSP or PSP depending on CONTROL.SPSEL */
	uc_reg_write(uc, UC_ARM_REG_SP, &regs->r[13]);
	uc_reg_write(uc, UC_ARM_REG_FAULTMASK, &faultmask);
	uc_reg_write(uc, UC_ARM_REG_BASEPRI, &basepri);
	uc_reg_write(uc, UC_ARM_REG_PRIMASK, &primask);
	uint32_t nzcvq = regs->xpsr & 0xF8000000u;
	uc_reg_write(uc, UC_ARM_REG_XPSR_NZCVQ, &nzcvq);
	uc_reg_write(uc, UC_ARM_REG_FPSCR, &regs->fpscr);
	for (int i = 0; i < 32; i++)
		uc_reg_write(uc, UC_ARM_REG_S0 + i, &regs->s[i]);
}

static void store_regs(uc_engine *uc, struct f4_core_regs *regs)
{
	for (int i = 0; i < 16; i++)
		uc_reg_read(uc, core_reg_ids[i], &regs->r[i]);
	uint32_t xpsr = 0, control = 0, faultmask = 0, basepri = 0, primask = 0;
	uc_reg_read(uc, UC_ARM_REG_XPSR, &xpsr);
	uc_reg_read(uc, UC_ARM_REG_MSP, &regs->msp);
	uc_reg_read(uc, UC_ARM_REG_PSP, &regs->psp);
	uc_reg_read(uc, UC_ARM_REG_CONTROL, &control);
	uc_reg_read(uc, UC_ARM_REG_FAULTMASK, &faultmask);
	uc_reg_read(uc, UC_ARM_REG_BASEPRI, &basepri);
	uc_reg_read(uc, UC_ARM_REG_PRIMASK, &primask);
	uc_reg_read(uc, UC_ARM_REG_FPSCR, &regs->fpscr);
	for (int i = 0; i < 32; i++)
		uc_reg_read(uc, UC_ARM_REG_S0 + i, &regs->s[i]);
	/* the core executes Thumb only: keep T set as the debugger expects */
	regs->xpsr = xpsr | 0x01000000u;
	regs->special = (control & 7u) << 24 | (faultmask & 1u) << 16 | (basepri & 0xFFu) << 8 | (primask & 1u);
	regs->r[15] &= ~1u;
}

static void classify_stop(struct f4_cpu *cpu, uc_err ue, const struct f4_core_regs *regs,
			  struct f4_cpu_result *out)
{
	uint32_t pc = regs->r[15];
	out->instructions = cpu->executed;
	out->fault_addr = 0;
	out->fault_is_data = false;
	if (cpu->bkpt) {
		out->why = F4_CPU_BKPT;
	} else if (cpu->faulted) {
		out->why = F4_CPU_FAULT;
		out->fault_addr = cpu->fault_addr;
		out->fault_is_data = cpu->fault_is_data;
	} else if (!f4_cpu_executes_at(pc)) {
		out->why = F4_CPU_LEFT_RAM;
	} else if (ue != UC_ERR_OK) {
		out->why = F4_CPU_FAULT;
		out->fault_addr = pc;
	} else if (cpu->stop_requested) {
		out->why = F4_CPU_BUS_STOP;
	} else {
		out->why = F4_CPU_BUDGET;
	}
}

void f4_cpu_run(struct f4_cpu *cpu, struct f4_core_regs *regs, uint64_t max_instructions,
		struct f4_cpu_result *out)
{
	memset(out, 0, sizeof *out);
	cpu->budget = max_instructions;
	cpu->executed = 0;
	cpu->stop_requested = cpu->bkpt = cpu->faulted = cpu->fault_is_data = false;
	cpu->fault_addr = 0;
	uint32_t pc = regs->r[15] & ~1u;
	if (!f4_cpu_executes_at(pc)) {
		out->why = F4_CPU_LEFT_RAM;
		return;
	}
	if (max_instructions == 0) {
		out->why = F4_CPU_BUDGET;
		return;
	}
	drop_stale_code(cpu);
	load_regs(cpu->uc, regs);
	uc_err ue = uc_emu_start(cpu->uc, pc | 1u, 0, 0, max_instructions);
	/* the block hook counts a block on entry; a count can stop it midway */
	if (cpu->executed > max_instructions)
		cpu->executed = max_instructions;
	if (max_instructions == 1)
		cpu->executed = (cpu->bkpt || cpu->faulted || ue != UC_ERR_OK) ? 0 : 1;
	store_regs(cpu->uc, regs);
	classify_stop(cpu, ue, regs, out);
}
