/* The Cortex-M4 core of the simulated STM32F405, on Debian's unicorn. It
 * executes only code the debugger placed in SRAM or CCM (flash loaders);
 * every other address goes back to the model through f4_cpu_bus, so the
 * flash controller's rules apply to loader writes exactly as to debugger
 * writes. All unicorn usage of the project stays in f4_cpu.c. */
#ifndef VR_BENCH_F4_CPU_H
#define VR_BENCH_F4_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

/* The core's registers as the debugger sees them (DCRSR numbering maps onto
 * these in f4_model.c). special packs CONTROL[31:24] FAULTMASK[23:16]
 * BASEPRI[15:8] PRIMASK[7:0] as DCRSR REGSEL 0x14 does. */
struct f4_core_regs {
	uint32_t r[16];
	uint32_t xpsr, msp, psp, special, fpscr;
	uint32_t s[32];
};

enum f4_bus_result {
	F4_BUS_OK = 0,
	F4_BUS_FAULT,       /* bus error: the core takes a fault */
	F4_BUS_OK_STOP,     /* done, but end the slice here (time ran out while stalled) */
};

/* How the core reaches everything outside SRAM/CCM. width 1, 2 or 4. */
struct f4_cpu_bus {
	void *ctx;
	enum f4_bus_result (*read)(void *ctx, uint32_t addr, unsigned width, uint32_t *val);
	enum f4_bus_result (*write)(void *ctx, uint32_t addr, unsigned width, uint32_t val);
};

enum f4_cpu_stop {
	F4_CPU_BUDGET = 0,   /* ran the instructions it was given */
	F4_CPU_BKPT,         /* a BKPT instruction: PC points at it */
	F4_CPU_FAULT,        /* bad access or undefined instruction: fault_addr says where */
	F4_CPU_LEFT_RAM,     /* PC went outside SRAM/CCM (into flash: "the application") */
	F4_CPU_BUS_STOP,     /* the model asked to end the slice */
};

struct f4_cpu_result {
	enum f4_cpu_stop why;
	uint64_t instructions;   /* retired, counted per executed block */
	uint32_t fault_addr;     /* data address of a bad access, else the PC */
	bool fault_is_data;      /* a data access (CFSR PRECISERR) rather than an instruction problem */
};

struct f4_cpu;

/* sram and ccm stay owned by the caller and must outlive the cpu; they
 * become the core's memory directly, so model and core never disagree. */
struct f4_cpu *f4_cpu_new(uint8_t *sram, size_t sram_size, uint8_t *ccm, size_t ccm_size,
			  const struct f4_cpu_bus *bus, struct vr_error *err);
void f4_cpu_free(struct f4_cpu *cpu);

/* Runs from regs->r[15] for at most max_instructions; regs are loaded
 * before and stored after, whatever stopped the core. */
void f4_cpu_run(struct f4_cpu *cpu, struct f4_core_regs *regs, uint64_t max_instructions,
		struct f4_cpu_result *out);

/* The debugger wrote SRAM/CCM behind the core's back (through the shared
 * buffers): code translated from there earlier must be dropped before the
 * core runs again, or a new loader at an old address would not be seen. */
void f4_cpu_code_changed(struct f4_cpu *cpu, uint32_t addr, size_t len);

/* Whether addr is memory the core executes itself (SRAM or CCM). */
bool f4_cpu_executes_at(uint32_t addr);

#endif
