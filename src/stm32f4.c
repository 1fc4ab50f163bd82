/* STM32F4 target layer: see stm32f4.h. Register facts from
 * ../shared/reference/stlink-swd-stm32f4.md §4-§5 (RM0090, PM0059, ARMv7-M). */
#include "stm32f4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crc.h"
#include "flashloader.h"

/* ---- registers ---------------------------------------------------------- */
#define CM4_CPUID 0xE000ED00u
#define CM4_AIRCR 0xE000ED0Cu
#define CM4_CFSR 0xE000ED28u
#define CM4_HFSR 0xE000ED2Cu
#define CM4_DFSR 0xE000ED30u
#define CM4_DHCSR 0xE000EDF0u
#define CM4_DEMCR 0xE000EDFCu
#define DBGMCU_IDCODE 0xE0042000u
#define DBGMCU_CR 0xE0042004u
#define DBGMCU_APB1_FZ 0xE0042008u
#define F4_FLASH_SIZE_WORD 0x1FFF7A20u  /* KB in the upper half-word (at ...22) */
#define F4_UID_ADDR 0x1FFF7A10u         /* 96 bits */

#define DHCSR_KEY 0xA05F0000u
#define DHCSR_C_DEBUGEN (1u << 0)
#define DHCSR_C_HALT (1u << 1)
#define DHCSR_C_MASKINTS (1u << 3)
#define DHCSR_S_HALT (1u << 17)
#define DHCSR_S_LOCKUP (1u << 19)
#define DHCSR_S_RESET_ST (1u << 25)
#define DEMCR_VC_CORERESET (1u << 0)
#define DEMCR_VC_BUSERR (1u << 8)
#define DEMCR_VC_HARDERR (1u << 10)
#define DEMCR_TRCENA (1u << 24)
#define DFSR_VCATCH (1u << 3)
#define DFSR_ALL 0x1Fu
#define AIRCR_SYSRESETREQ 0x05FA0004u
#define DBGMCU_FZ_WDG ((1u << 11) | (1u << 12))  /* WWDG_STOP, IWDG_STOP */
#define DBGMCU_CR_LOWPOWER 0x7u                   /* DBG_SLEEP, DBG_STOP, DBG_STANDBY */

#define FLASH_ACR 0x40023C00u
#define FLASH_KEYR 0x40023C04u
#define FLASH_OPTKEYR 0x40023C08u
#define FLASH_SR 0x40023C0Cu
#define FLASH_CR 0x40023C10u
#define FLASH_OPTCR 0x40023C14u
#define FLASH_KEY1 0x45670123u
#define FLASH_KEY2 0xCDEF89ABu
#define FLASH_OPTKEY1 0x08192A3Bu
#define FLASH_OPTKEY2 0x4C5D6E7Fu
#define SR_OPERR (1u << 1)
#define SR_WRPERR (1u << 4)
#define SR_PGAERR (1u << 5)
#define SR_PGPERR (1u << 6)
#define SR_PGSERR (1u << 7)
#define SR_BSY (1u << 16)
#define SR_ERRORS 0xF2u
#define SR_CLEAR 0xF3u             /* EOP and every error flag, write-1-to-clear */
#define CR_PG (1u << 0)
#define CR_SER (1u << 1)
#define CR_MER (1u << 2)
#define CR_SNB(n) ((uint32_t)(n) << 3)
#define CR_PSIZE_X32 (2u << 8)
#define CR_STRT (1u << 16)
#define CR_LOCK (1u << 31)
#define OPTCR_OPTLOCK (1u << 0)
#define OPTCR_OPTSTRT (1u << 1)
#define OPTCR_RDP_MASK 0x0000FF00u
#define OPTCR_NWRP_MASK 0x0FFF0000u
#define ACR_ICEN (1u << 9)
#define ACR_DCEN (1u << 10)
#define ACR_ICRST (1u << 11)
#define ACR_DCRST (1u << 12)
#define RCC_AHB1ENR 0x40023830u
#define RCC_AHB1ENR_CRCEN (1u << 12)
#define XPSR_THUMB 0x01000000u

#define FLASH_END (STM32F4_FLASH_BASE + 1024u * 1024u)
#define SECTOR_ERASE_TIMEOUT_US 10000000u     /* OpenOCD's; 5x the 128 KB maximum */
#define MASS_ERASE_TIMEOUT_US 33000000u       /* above tME max 16 s (x32) and 32 s (x8) */
#define OPTION_TIMEOUT_US 40000000u           /* RDP regression erases everything */
#define TPROG_TYP_US 16u
#define TPROG_MAX_US 100u
#define POLL_COARSE_US 250000u                /* progress cadence while far from done */
#define POLL_FINE_US 2000u

/* ---- descriptions -------------------------------------------------------- */
static const struct stm32f4_desc known_parts[] = {
	{0x413, "STM32F40x/F41x", "STM32F405", true, 1024},
	{0x411, "STM32F20x/F21x", "STM32F205", false, 1024},
	{0x419, "STM32F42x/F43x", "STM32F427", false, 2048},
	{0x421, "STM32F446", "STM32F446", false, 512},
	{0x423, "STM32F401xB/C", "STM32F401", false, 256},
	{0x433, "STM32F401xD/E", "STM32F401", false, 512},
	{0x431, "STM32F411", "STM32F411", false, 512},
	{0x458, "STM32F410", "STM32F410", false, 128},
	{0x441, "STM32F412", "STM32F412", false, 1024},
	{0x463, "STM32F413/F423", "STM32F413", false, 1536},
	{0x434, "STM32F469/F479", "STM32F469", false, 2048},
	{0x449, "STM32F74x/F75x", "STM32F746", false, 1024},
	{0x451, "STM32F76x/F77x", "STM32F767", false, 2048},
	{0x452, "STM32F72x/F73x", "STM32F722", false, 512},
	{0x468, "STM32G43x/G44x", "STM32G431", false, 128},
	{0x469, "STM32G47x/G48x", "STM32G474", false, 512},
	{0x479, "STM32G49x/G4Ax", "STM32G491", false, 512},
};

static const uint32_t sector_kb[STM32F4_SECTORS] = {16, 16, 16, 16, 64, 128, 128, 128, 128, 128, 128, 128};

const struct stm32f4_desc *stm32f4_desc_find(uint16_t dev_id)
{
	for (size_t i = 0; i < sizeof known_parts / sizeof known_parts[0]; i++)
		if (known_parts[i].dev_id == dev_id)
			return &known_parts[i];
	return NULL;
}

uint16_t stm32f4_effective_dev_id(uint16_t dev_id, uint32_t cpuid)
{
	bool cortex_m4 = ((cpuid >> 4) & 0xFFFu) == 0xC24u;
	if (dev_id == 0x411 && cortex_m4)
		return 0x413;
	return dev_id;
}

void stm32f4_describe_dev_id(uint16_t dev_id, char *out, size_t out_len)
{
	const struct stm32f4_desc *d = stm32f4_desc_find(dev_id);
	if (d)
		snprintf(out, out_len, "%s (0x%03x)", d->example, dev_id);
	else
		snprintf(out, out_len, "an unknown MCU (DEV_ID 0x%03x)", dev_id);
}

uint32_t stm32f4_sector_address(unsigned sector)
{
	uint32_t addr = STM32F4_FLASH_BASE;
	for (unsigned i = 0; i < sector && i < STM32F4_SECTORS; i++)
		addr += sector_kb[i] * 1024u;
	return addr;
}

uint32_t stm32f4_sector_size(unsigned sector)
{
	return sector < STM32F4_SECTORS ? sector_kb[sector] * 1024u : 0;
}

int stm32f4_sector_of(uint32_t addr)
{
	if (addr < STM32F4_FLASH_BASE || addr >= FLASH_END)
		return -1;
	for (unsigned i = 0; i < STM32F4_SECTORS; i++) {
		uint32_t base = stm32f4_sector_address(i);
		if (addr < base + stm32f4_sector_size(i))
			return (int)i;
	}
	return -1;
}

uint64_t stm32f4_sector_erase_typ_us(unsigned sector)
{
	switch (stm32f4_sector_size(sector)) {
	case 16u * 1024u: return 250000u;
	case 64u * 1024u: return 550000u;
	default: return 1000000u;
	}
}

/* ---- time ----------------------------------------------------------------- */
static uint64_t real_now_us(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void real_sleep_us(void *ctx, uint64_t us)
{
	(void)ctx;
	struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};
	/* a signal cuts the nap short on purpose: the caller polls again and
	 * checks its cancel flag at the next safe point */
	(void)nanosleep(&ts, NULL);
}

static uint64_t now_us(struct stm32f4 *t)
{
	return t->clock.now_us(t->clock.ctx);
}

static void sleep_us(struct stm32f4 *t, uint64_t us)
{
	if (us)
		t->clock.sleep_us(t->clock.ctx, us);
}

void stm32f4_init(struct stm32f4 *t, struct swd_probe *probe, const struct stm32f4_clock *clock)
{
	memset(t, 0, sizeof *t);
	t->probe = probe;
	if (clock && clock->now_us && clock->sleep_us) {
		t->clock = *clock;
	} else {
		t->clock.now_us = real_now_us;
		t->clock.sleep_us = real_sleep_us;
	}
	t->use_loader = true;
	t->crc_engine = -1;
}

static bool cancelled(const struct stm32f4 *t)
{
	return t->cancel && *t->cancel;
}

static void report(struct stm32f4 *t, const char *what, uint64_t elapsed, uint64_t typ,
		   uint64_t max, uint64_t done, uint64_t total)
{
	if (!t->progress)
		return;
	struct stm32f4_progress p = {what, elapsed, typ, max, done, total};
	t->progress(t->progress_ctx, &p);
}

/* ---- probe access, counted -------------------------------------------------- */
static vr_err rd32(struct stm32f4 *t, uint32_t addr, uint32_t *val, struct vr_error *err)
{
	t->stats.probe_calls++;
	return t->probe->ops->read_word(t->probe->ctx, addr, val, err);
}

static vr_err wr32(struct stm32f4 *t, uint32_t addr, uint32_t val, struct vr_error *err)
{
	t->stats.probe_calls++;
	return t->probe->ops->write_word(t->probe->ctx, addr, val, err);
}

static vr_err rdmem(struct stm32f4 *t, uint32_t addr, void *buf, size_t len, struct vr_error *err)
{
	t->stats.probe_calls++;
	t->stats.bytes_from_target += len;
	return t->probe->ops->read_mem(t->probe->ctx, addr, buf, len, err);
}

static vr_err wrmem(struct stm32f4 *t, uint32_t addr, const void *buf, size_t len,
		    struct vr_error *err)
{
	t->stats.probe_calls++;
	t->stats.bytes_to_target += len;
	return t->probe->ops->write_mem(t->probe->ctx, addr, buf, len, err);
}

static vr_err rdreg(struct stm32f4 *t, unsigned reg, uint32_t *val, struct vr_error *err)
{
	t->stats.probe_calls++;
	return t->probe->ops->read_core_reg(t->probe->ctx, reg, val, err);
}

static vr_err wrreg(struct stm32f4 *t, unsigned reg, uint32_t val, struct vr_error *err)
{
	t->stats.probe_calls++;
	return t->probe->ops->write_core_reg(t->probe->ctx, reg, val, err);
}

static vr_err set_bits(struct stm32f4 *t, uint32_t addr, uint32_t bits, struct vr_error *err)
{
	uint32_t v;
	vr_err rc = rd32(t, addr, &v, err);
	if (rc == VR_OK && (v & bits) != bits)
		rc = wr32(t, addr, v | bits, err);
	return rc;
}

/* ---- identity --------------------------------------------------------------- */
static vr_err read_part_ids(struct stm32f4 *t, struct stm32f4_ids *ids, struct vr_error *err)
{
	vr_err rc = rd32(t, CM4_CPUID, &ids->cpuid, err);
	if (rc != VR_OK)
		return vr_wrap(err, "reading CPUID");
	if ((ids->cpuid >> 24) != 0x41u)
		return vr_fail(err, VR_ERR_NO_DEVICE,
			       "CPUID reads 0x%08x, not an ARM Cortex-M: the target did not answer "
			       "properly; try connect-under-reset", ids->cpuid);
	rc = rd32(t, DBGMCU_IDCODE, &ids->idcode, err);
	if (rc != VR_OK)
		return vr_wrap(err, "reading DBGMCU_IDCODE");
	ids->rev_id = (uint16_t)(ids->idcode >> 16);
	ids->dev_id = stm32f4_effective_dev_id((uint16_t)(ids->idcode & 0xFFFu), ids->cpuid);
	return VR_OK;
}

static void read_flash_size_and_uid(struct stm32f4 *t, struct stm32f4_ids *ids)
{
	/* system-memory words: readable even under RDP1; a failure only leaves
	 * them unknown (reported as 0), it says nothing about the flash */
	struct vr_error ignored = {0};
	uint32_t word;
	if (rd32(t, F4_FLASH_SIZE_WORD, &word, &ignored) == VR_OK)
		ids->flash_kb = word >> 16;
	if (rdmem(t, F4_UID_ADDR, ids->uid, sizeof ids->uid, &ignored) != VR_OK)
		memset(ids->uid, 0, sizeof ids->uid);
}

vr_err stm32f4_identify(struct stm32f4 *t, struct vr_error *err)
{
	struct stm32f4_ids ids = {0};
	if (t->probe->ops->read_dpidr) {
		t->stats.probe_calls++;
		if (t->probe->ops->read_dpidr(t->probe->ctx, &ids.dpidr, err) != VR_OK)
			return vr_wrap(err, "reading DPIDR");
	}
	vr_err rc = read_part_ids(t, &ids, err);
	if (rc != VR_OK)
		return rc;
	ids.desc = stm32f4_desc_find(ids.dev_id);
	t->ids = ids;
	if (!ids.desc || !ids.desc->supported) {
		char name[64];
		stm32f4_describe_dev_id(ids.dev_id, name, sizeof name);
		return vr_fail(err, VR_ERR_UNRECOVERABLE,
			       "this is %s, not a VESC's STM32F405: refusing", name);
	}
	read_flash_size_and_uid(t, &t->ids);
	t->identified = true;
	return VR_OK;
}

/* ---- core control ------------------------------------------------------------ */
vr_err stm32f4_dhcsr(struct stm32f4 *t, uint32_t *dhcsr, struct vr_error *err)
{
	return rd32(t, CM4_DHCSR, dhcsr, err);
}

static vr_err wait_halted(struct stm32f4 *t, uint64_t timeout_us, struct vr_error *err)
{
	uint64_t start = now_us(t);
	uint32_t dhcsr = 0;
	for (;;) {
		vr_err rc = rd32(t, CM4_DHCSR, &dhcsr, err);
		if (rc != VR_OK)
			return rc;
		if (dhcsr & DHCSR_S_HALT)
			return VR_OK;
		if (now_us(t) - start > timeout_us)
			break;
		sleep_us(t, 1000);
	}
	return vr_fail(err, VR_ERR_TIMEOUT,
		       "the core did not halt (DHCSR 0x%08x%s): try connect-under-reset", dhcsr,
		       (dhcsr & DHCSR_S_LOCKUP) ? ", locked up" : "");
}

vr_err stm32f4_halt(struct stm32f4 *t, struct vr_error *err)
{
	vr_err rc = wr32(t, CM4_DHCSR, DHCSR_KEY | DHCSR_C_HALT | DHCSR_C_DEBUGEN, err);
	if (rc == VR_OK)
		rc = wait_halted(t, 100000, err);
	if (rc != VR_OK)
		return vr_wrap(err, "halting the core");
	return VR_OK;
}

vr_err stm32f4_freeze_watchdogs(struct stm32f4 *t, struct vr_error *err)
{
	vr_err rc = set_bits(t, DBGMCU_APB1_FZ, DBGMCU_FZ_WDG, err);
	if (rc == VR_OK)
		rc = set_bits(t, DBGMCU_CR, DBGMCU_CR_LOWPOWER, err);
	if (rc != VR_OK)
		return vr_wrap(err, "freezing the watchdogs");
	return VR_OK;
}

/* Halted after the reset: S_RESET_ST seen (or the vector catch recorded in
 * DFSR, in case the sticky bit was consumed by a read we did not see). */
static vr_err wait_reset_halt(struct stm32f4 *t, struct vr_error *err)
{
	uint64_t start = now_us(t);
	bool seen_reset = false;
	uint32_t dhcsr = 0;
	struct vr_error transient = {0};
	while (now_us(t) - start < 500000) {
		sleep_us(t, 1000);
		/* reads during the reset itself may fail: not an error yet */
		if (rd32(t, CM4_DHCSR, &dhcsr, &transient) != VR_OK)
			continue;
		seen_reset |= (dhcsr & DHCSR_S_RESET_ST) != 0;
		if (!(dhcsr & DHCSR_S_HALT))
			continue;
		uint32_t dfsr = 0;
		if (!seen_reset && rd32(t, CM4_DFSR, &dfsr, &transient) == VR_OK)
			seen_reset = (dfsr & DFSR_VCATCH) != 0;
		if (seen_reset)
			return VR_OK;
	}
	return vr_fail(err, VR_ERR_TIMEOUT,
		       "the core did not stop on its reset vector within 500 ms (DHCSR 0x%08x)",
		       dhcsr);
}

vr_err stm32f4_reset_halt(struct stm32f4 *t, struct vr_error *err)
{
	uint32_t dhcsr;
	vr_err rc = wr32(t, CM4_DHCSR, DHCSR_KEY | DHCSR_C_HALT | DHCSR_C_DEBUGEN, err);
	if (rc == VR_OK)
		rc = wr32(t, CM4_DEMCR, DEMCR_TRCENA | DEMCR_VC_HARDERR | DEMCR_VC_BUSERR |
			  DEMCR_VC_CORERESET, err);
	if (rc == VR_OK)
		rc = wr32(t, CM4_DFSR, DFSR_ALL, err);
	if (rc == VR_OK)
		rc = rd32(t, CM4_DHCSR, &dhcsr, err);  /* clears a stale S_RESET_ST */
	if (rc == VR_OK)
		rc = wr32(t, CM4_AIRCR, AIRCR_SYSRESETREQ, err);
	if (rc == VR_OK)
		rc = wait_reset_halt(t, err);
	if (rc == VR_OK)
		rc = wr32(t, CM4_DFSR, DFSR_ALL, err);
	t->loader_ready = false;
	if (rc != VR_OK)
		return vr_wrap(err, "reset with halt");
	return VR_OK;
}

vr_err stm32f4_reset_run(struct stm32f4 *t, struct vr_error *err)
{
	/* no vector catch, halt request dropped, then the reset: the firmware
	 * starts from its own vector table as after power-on */
	vr_err rc = wr32(t, CM4_DEMCR, 0, err);
	if (rc == VR_OK)
		rc = wr32(t, CM4_DHCSR, DHCSR_KEY | DHCSR_C_DEBUGEN, err);
	if (rc == VR_OK)
		rc = wr32(t, CM4_AIRCR, AIRCR_SYSRESETREQ, err);
	if (rc == VR_OK) {
		sleep_us(t, 10000);
		/* debug released: breakpoints left in the firmware no longer halt it */
		struct vr_error ignored = {0};
		(void)wr32(t, CM4_DHCSR, DHCSR_KEY, &ignored);
	}
	t->loader_ready = false;
	if (rc != VR_OK)
		return vr_wrap(err, "reset and run");
	return VR_OK;
}

/* ---- option bytes ------------------------------------------------------------- */
void stm32f4_decode_optcr(uint32_t optcr, struct stm32f4_options *out)
{
	out->optcr = optcr;
	out->rdp_byte = (uint8_t)((optcr & OPTCR_RDP_MASK) >> 8);
	out->rdp_level = out->rdp_byte == 0xAA ? 0 : out->rdp_byte == 0xCC ? 2 : 1;
	out->nwrp = (uint16_t)((optcr & OPTCR_NWRP_MASK) >> 16);
}

vr_err stm32f4_read_options(struct stm32f4 *t, struct stm32f4_options *out, struct vr_error *err)
{
	uint32_t optcr;
	vr_err rc = rd32(t, FLASH_OPTCR, &optcr, err);
	if (rc != VR_OK)
		return vr_wrap(err, "reading the option bytes (FLASH_OPTCR)");
	stm32f4_decode_optcr(optcr, out);
	return VR_OK;
}

/* ---- reading ------------------------------------------------------------------- */
static vr_err explain_read_fault(struct stm32f4 *t, uint32_t addr, struct vr_error *err)
{
	if (addr < STM32F4_FLASH_BASE || addr >= FLASH_END)
		return err ? err->code : VR_ERR_FAULT;
	struct stm32f4_options o;
	struct vr_error ignored = {0};
	if (stm32f4_read_options(t, &o, &ignored) == VR_OK && o.rdp_level == 1)
		return vr_fail(err, VR_ERR_PROTECTED,
			       "flash at 0x%08x is read-protected (RDP level 1): its contents cannot "
			       "be read over SWD", addr);
	return err ? err->code : VR_ERR_FAULT;
}

vr_err stm32f4_read(struct stm32f4 *t, uint32_t addr, void *buf, size_t len, struct vr_error *err)
{
	const size_t chunk = 16384;
	uint8_t *out = buf;
	if ((addr & 3u) || (len & 3u))
		return vr_fail(err, VR_ERR_INTERNAL, "unaligned read at 0x%08x (%zu bytes)", addr, len);
	uint64_t start = now_us(t);
	for (size_t done = 0; done < len;) {
		size_t n = len - done < chunk ? len - done : chunk;
		uint32_t at = addr + (uint32_t)done;
		if (rdmem(t, at, out + done, n, err) != VR_OK) {
			explain_read_fault(t, at, err);
			return vr_wrap(err, "reading 0x%08x", at);
		}
		done += n;
		report(t, "reading", now_us(t) - start, 0, 0, done, len);
	}
	return VR_OK;
}

/* ---- flash controller ------------------------------------------------------------ */
static vr_err describe_sr_error(uint32_t sr, uint32_t addr, const char *what, struct vr_error *err)
{
	if (sr & SR_WRPERR) {
		int s = stm32f4_sector_of(addr);
		return vr_fail(err, VR_ERR_PROTECTED,
			       "%s: sector %d is write-protected (nWRP, SR 0x%08x): clear write "
			       "protection first (--allow-unprotect)", what, s, sr);
	}
	const char *why = (sr & SR_PGSERR) ? "programming sequence error (PGSERR)"
			: (sr & SR_PGPERR) ? "parallelism error (PGPERR)"
			: (sr & SR_PGAERR) ? "alignment error (PGAERR)"
			: "operation error (OPERR)";
	return vr_fail(err, VR_ERR_OPERATION, "%s failed at 0x%08x: %s, FLASH_SR 0x%08x",
		       what, addr, why, sr);
}

/* Polls FLASH_SR until BSY clears: coarse while the typical time is far,
 * fine near it, progress at every poll, a timeout above the datasheet max. */
static vr_err wait_flash(struct stm32f4 *t, const char *what, uint64_t typ_us, uint64_t max_us,
			 uint64_t timeout_us, uint32_t *sr_out, struct vr_error *err)
{
	uint64_t start = now_us(t);
	/* coarse polls keep the progress moving and catch an early end (blank
	 * sectors erase faster); fine ones near the typical time lose at most
	 * 0.25% of it */
	uint64_t near = typ_us - typ_us / 50;
	uint64_t fine = typ_us / 400 > POLL_FINE_US ? typ_us / 400 : POLL_FINE_US;
	for (;;) {
		uint64_t elapsed = now_us(t) - start;
		uint32_t sr;
		t->stats.polls++;
		vr_err rc = rd32(t, FLASH_SR, &sr, err);
		if (rc != VR_OK)
			return vr_wrap(err, "%s: reading FLASH_SR", what);
		/* only timed steps (erases, option writes) report: an idle check
		 * is not progress */
		if (!(sr & SR_BSY)) {
			t->stats.wait_us += now_us(t) - start;
			if (typ_us)
				report(t, what, now_us(t) - start, typ_us, max_us, 1, 1);
			*sr_out = sr;
			return VR_OK;
		}
		if (typ_us)
			report(t, what, elapsed, typ_us, max_us, 0, 1);
		if (elapsed > timeout_us)
			return vr_fail(err, VR_ERR_TIMEOUT,
				       "%s: the flash stayed busy for %.1f s (datasheet maximum %.1f s); "
				       "the chip may be damaged or its supply unstable: power-cycle it and "
				       "run the survey again", what, elapsed / 1e6, max_us / 1e6);
		uint64_t pause = elapsed < near ? near - elapsed : fine;
		sleep_us(t, pause > POLL_COARSE_US ? POLL_COARSE_US : pause);
	}
}

static vr_err flash_unlock(struct stm32f4 *t, struct vr_error *err)
{
	uint32_t cr;
	vr_err rc = rd32(t, FLASH_CR, &cr, err);
	if (rc != VR_OK || !(cr & CR_LOCK))
		return rc;
	/* only when locked: writing the keys to an unlocked CR locks it up to
	 * the next reset */
	rc = wr32(t, FLASH_KEYR, FLASH_KEY1, err);
	if (rc == VR_OK)
		rc = wr32(t, FLASH_KEYR, FLASH_KEY2, err);
	if (rc == VR_OK)
		rc = rd32(t, FLASH_CR, &cr, err);
	if (rc != VR_OK)
		return rc;
	if (cr & CR_LOCK)
		return vr_fail(err, VR_ERR_OPERATION,
			       "the flash controller refused its unlock keys (FLASH_CR 0x%08x); it stays "
			       "locked until the next reset: power-cycle the VESC and retry", cr);
	return VR_OK;
}

static vr_err flash_lock(struct stm32f4 *t, struct vr_error *err)
{
	return wr32(t, FLASH_CR, CR_LOCK, err);
}

/* Stale ART cache lines would make a verify read what was there before
 * the erase (reference §5.3, unverified): turn the caches off and reset
 * them. After a reset they are already off, and this costs one read. */
static vr_err flush_caches(struct stm32f4 *t, struct vr_error *err)
{
	uint32_t acr;
	vr_err rc = rd32(t, FLASH_ACR, &acr, err);
	if (rc != VR_OK || !(acr & (ACR_ICEN | ACR_DCEN)))
		return rc;
	uint32_t off = acr & ~(ACR_ICEN | ACR_DCEN);
	rc = wr32(t, FLASH_ACR, off, err);
	if (rc == VR_OK)
		rc = wr32(t, FLASH_ACR, off | ACR_ICRST | ACR_DCRST, err);
	if (rc == VR_OK)
		rc = wr32(t, FLASH_ACR, off, err);
	return rc;
}

/* Everything a flash operation needs first: halted core, no protection in
 * the way of the sectors in mask, idle controller, errors cleared, unlocked. */
static vr_err flash_prepare(struct stm32f4 *t, uint16_t mask, const char *what,
			    struct vr_error *err)
{
	uint32_t dhcsr;
	vr_err rc = rd32(t, CM4_DHCSR, &dhcsr, err);
	if (rc == VR_OK && !(dhcsr & DHCSR_S_HALT))
		rc = stm32f4_halt(t, err);
	struct stm32f4_options o;
	if (rc == VR_OK)
		rc = stm32f4_read_options(t, &o, err);
	if (rc != VR_OK)
		return vr_wrap(err, "%s", what);
	if (o.rdp_level != 0)
		return vr_fail(err, VR_ERR_PROTECTED,
			       "%s: the chip is read-protected (RDP level %d): flash cannot be erased "
			       "or programmed while a debugger is attached; RDP regression (erases "
			       "everything) needs --allow-unprotect", what, o.rdp_level);
	uint16_t locked = (uint16_t)(~o.nwrp & mask & 0xFFFu);
	if (locked) {
		unsigned s = 0;
		while (!(locked & (1u << s)))
			s++;
		return vr_fail(err, VR_ERR_PROTECTED,
			       "%s: sector %u is write-protected (nWRP 0x%03x): clearing write "
			       "protection needs --allow-unprotect", what, s, o.nwrp);
	}
	uint32_t sr;
	rc = wait_flash(t, what, 0, 0, SECTOR_ERASE_TIMEOUT_US, &sr, err);
	if (rc == VR_OK && (sr & (SR_ERRORS | 1u)))
		rc = wr32(t, FLASH_SR, SR_CLEAR, err);
	if (rc == VR_OK)
		rc = flush_caches(t, err);
	if (rc == VR_OK)
		rc = flash_unlock(t, err);
	if (rc != VR_OK)
		return vr_wrap(err, "%s", what);
	return VR_OK;
}

static vr_err erase_one_sector(struct stm32f4 *t, unsigned s, struct vr_error *err)
{
	char what[40];
	snprintf(what, sizeof what, "erasing sector %u", s);
	uint32_t cr = CR_SER | CR_SNB(s) | CR_PSIZE_X32;
	vr_err rc = wr32(t, FLASH_CR, cr, err);
	if (rc == VR_OK)
		rc = wr32(t, FLASH_CR, cr | CR_STRT, err);
	uint32_t sr = 0;
	uint64_t typ = stm32f4_sector_erase_typ_us(s);
	if (rc == VR_OK)
		rc = wait_flash(t, what, typ, 2 * typ, SECTOR_ERASE_TIMEOUT_US, &sr, err);
	if (rc != VR_OK)
		return rc;
	if (sr & SR_ERRORS)
		return describe_sr_error(sr, stm32f4_sector_address(s), what, err);
	return VR_OK;
}

vr_err stm32f4_erase_sectors(struct stm32f4 *t, uint16_t sector_mask, struct vr_error *err)
{
	sector_mask &= 0xFFFu;
	if (!sector_mask)
		return VR_OK;
	vr_err rc = flash_prepare(t, sector_mask, "sector erase", err);
	if (rc != VR_OK)
		return rc;
	for (unsigned s = 0; s < STM32F4_SECTORS && rc == VR_OK; s++) {
		if (!(sector_mask & (1u << s)))
			continue;
		if (cancelled(t)) {
			rc = vr_fail(err, VR_ERR_INTERRUPTED,
				     "sector erase interrupted before sector %u (the sectors before it "
				     "are erased)", s);
			break;
		}
		rc = erase_one_sector(t, s, err);
	}
	struct vr_error ignored = {0};
	(void)flash_lock(t, rc == VR_OK ? err : &ignored);
	return rc;
}

vr_err stm32f4_mass_erase(struct stm32f4 *t, struct vr_error *err)
{
	const char *what = "mass erase";
	vr_err rc = flash_prepare(t, 0xFFF, what, err);
	if (rc != VR_OK)
		return rc;
	/* PSIZE x32: half the x8 time st-flash and OpenOCD spend (reference §5.1) */
	uint32_t cr = CR_MER | CR_PSIZE_X32;
	rc = wr32(t, FLASH_CR, cr, err);
	if (rc == VR_OK)
		rc = wr32(t, FLASH_CR, cr | CR_STRT, err);
	uint32_t sr = 0;
	if (rc == VR_OK)
		rc = wait_flash(t, what, STM32F4_MASS_ERASE_TYP_US, STM32F4_MASS_ERASE_MAX_US,
				MASS_ERASE_TIMEOUT_US, &sr, err);
	if (rc == VR_OK && (sr & SR_ERRORS))
		rc = describe_sr_error(sr, STM32F4_FLASH_BASE, what, err);
	/* MER cleared with the lock, as st-flash does "for safety" */
	struct vr_error ignored = {0};
	(void)flash_lock(t, rc == VR_OK ? err : &ignored);
	return rc;
}

/* ---- the loader ------------------------------------------------------------------- */
static vr_err loader_load(struct stm32f4 *t, struct vr_error *err)
{
	if (t->loader_ready)
		return VR_OK;
	size_t len;
	const uint8_t *code = flashloader_code(&len);
	uint8_t padded[256];
	if (len > sizeof padded)
		return vr_fail(err, VR_ERR_INTERNAL, "flash loader larger than expected");
	memset(padded, 0, sizeof padded);
	memcpy(padded, code, len);
	size_t words = (len + 3u) & ~(size_t)3u;
	vr_err rc = wrmem(t, FL_LOAD_ADDR, padded, words, err);
	/* faults inside the loader halt the core instead of spinning in a
	 * HardFault handler the erased flash does not have */
	if (rc == VR_OK)
		rc = wr32(t, CM4_DEMCR, DEMCR_TRCENA | DEMCR_VC_HARDERR | DEMCR_VC_BUSERR, err);
	if (rc == VR_OK)
		rc = wrreg(t, SWD_REG_MSP, FL_STACK_TOP, err);
	if (rc == VR_OK)
		rc = wrreg(t, SWD_REG_XPSR, XPSR_THUMB, err);
	if (rc != VR_OK)
		return vr_wrap(err, "loading the flash loader into SRAM");
	t->loader_ready = true;
	return VR_OK;
}

static vr_err loader_start(struct stm32f4 *t, uint32_t entry, uint32_t r0, uint32_t r1,
			   uint32_t r2, struct vr_error *err)
{
	vr_err rc = wrreg(t, 0, r0, err);
	if (rc == VR_OK)
		rc = wrreg(t, 1, r1, err);
	if (rc == VR_OK)
		rc = wrreg(t, 2, r2, err);
	if (rc == VR_OK)
		rc = wrreg(t, SWD_REG_PC, FL_LOAD_ADDR + entry, err);
	/* run with interrupts masked: the erased flash has no handlers */
	if (rc == VR_OK)
		rc = wr32(t, CM4_DHCSR, DHCSR_KEY | DHCSR_C_DEBUGEN | DHCSR_C_MASKINTS, err);
	if (rc == VR_OK)
		t->stats.loader_runs++;
	return rc;
}

/* Waits for the loader's BKPT: sleeps through the expected time, then polls.
 * *r0 gets its result; a halt elsewhere than a BKPT is a crash. */
static vr_err loader_wait(struct stm32f4 *t, uint64_t started, uint64_t expect_us,
			  uint64_t timeout_us, uint32_t *r0, struct vr_error *err)
{
	uint64_t wait_start = now_us(t);
	uint64_t elapsed = wait_start - started;
	if (elapsed < expect_us)
		sleep_us(t, expect_us - elapsed);
	uint32_t dhcsr = 0;
	for (;;) {
		t->stats.polls++;
		vr_err rc = rd32(t, CM4_DHCSR, &dhcsr, err);
		if (rc != VR_OK)
			return vr_wrap(err, "waiting for the flash loader");
		if (dhcsr & DHCSR_S_HALT)
			break;
		if (now_us(t) - started > timeout_us) {
			struct vr_error ignored = {0};
			(void)stm32f4_halt(t, &ignored);
			return vr_fail(err, VR_ERR_TIMEOUT,
				       "the flash loader did not finish within %.1f s (DHCSR 0x%08x)",
				       timeout_us / 1e6, dhcsr);
		}
		sleep_us(t, POLL_FINE_US / 2);
	}
	t->stats.wait_us += now_us(t) - wait_start;
	vr_err rc = rdreg(t, 0, r0, err);
	if (rc != VR_OK)
		return vr_wrap(err, "reading the flash loader's result");
	return VR_OK;
}

static vr_err loader_crashed(struct stm32f4 *t, struct vr_error *err)
{
	uint32_t pc = 0, cfsr = 0;
	struct vr_error ignored = {0};
	(void)rdreg(t, SWD_REG_PC, &pc, &ignored);
	(void)rd32(t, CM4_CFSR, &cfsr, &ignored);
	t->loader_ready = false;
	return vr_fail(err, VR_ERR_FAULT,
		       "the flash loader stopped outside its code (PC 0x%08x, CFSR 0x%08x)", pc, cfsr);
}

static void choose_crc_engine(struct stm32f4 *t);

/* ---- programming ------------------------------------------------------------------- */
static bool word_is_blank(const uint8_t *p)
{
	return p[0] == 0xFF && p[1] == 0xFF && p[2] == 0xFF && p[3] == 0xFF;
}

static size_t count_programmed_words(const uint8_t *data, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i + 4 <= len; i += 4)
		n += !word_is_blank(data + i);
	return n;
}

/* One loader block: [off, off+len) of the image, trimmed of 0xFF words at
 * both ends; len 0 when the window is all 0xFF. */
struct block {
	size_t off, len;
	size_t words;       /* words to program inside */
};

static struct block next_block(const uint8_t *data, size_t total, size_t from)
{
	struct block b = {total, 0, 0};
	size_t start = from;
	while (start < total && word_is_blank(data + start))
		start += 4;
	if (start >= total)
		return b;
	size_t end = start + FL_BUF_SIZE < total ? start + FL_BUF_SIZE : total;
	while (end > start && word_is_blank(data + end - 4))
		end -= 4;
	b.off = start;
	b.len = end - start;
	b.words = count_programmed_words(data + start, b.len);
	return b;
}

static vr_err check_loader_result(struct stm32f4 *t, uint32_t status, uint32_t src_buf,
				  struct vr_error *err)
{
	if (status == 0)
		return VR_OK;
	/* r0 still holds the source pointer when it did not get to its end */
	if (status >= src_buf && status <= src_buf + FL_BUF_SIZE)
		return loader_crashed(t, err);
	uint32_t failed_at = 0;
	struct vr_error ignored = {0};
	(void)rdreg(t, 1, &failed_at, &ignored);
	return describe_sr_error(status, failed_at, "programming", err);
}

struct pipeline {
	bool busy;
	uint32_t buf;
	uint64_t started, expect_us, timeout_us;
};

static vr_err pipeline_finish(struct stm32f4 *t, struct pipeline *p, struct vr_error *err)
{
	if (!p->busy)
		return VR_OK;
	p->busy = false;
	uint32_t status;
	vr_err rc = loader_wait(t, p->started, p->expect_us, p->timeout_us, &status, err);
	if (rc == VR_OK)
		rc = check_loader_result(t, status, p->buf, err);
	return rc;
}

static vr_err program_with_loader(struct stm32f4 *t, uint32_t addr, const uint8_t *data,
				  size_t len, struct vr_error *err)
{
	vr_err rc = loader_load(t, err);
	struct pipeline running = {0};
	uint32_t next_buf = FL_BUF_A;
	uint64_t start = now_us(t);
	size_t from = 0;
	while (rc == VR_OK) {
		struct block b = next_block(data, len, from);
		if (b.len == 0)
			break;
		/* fill the idle buffer while the other one is being programmed */
		rc = wrmem(t, next_buf, data + b.off, b.len, err);
		if (rc == VR_OK)
			rc = pipeline_finish(t, &running, err);
		if (rc == VR_OK && cancelled(t))
			rc = vr_fail(err, VR_ERR_INTERRUPTED,
				     "programming interrupted at 0x%08x (everything before it is "
				     "written)", addr + (uint32_t)b.off);
		if (rc != VR_OK)
			break;
		report(t, "programming", now_us(t) - start, 0, 0, b.off, len);
		running.started = now_us(t);
		rc = loader_start(t, FL_ENTRY_PROGRAM, next_buf, addr + (uint32_t)b.off,
				  (uint32_t)b.len, err);
		running.busy = rc == VR_OK;
		running.buf = next_buf;
		running.expect_us = b.words * TPROG_TYP_US;
		running.timeout_us = b.words * TPROG_MAX_US * 2 + 1000000u;
		t->stats.bytes_programmed += b.words * 4u;
		next_buf = next_buf == FL_BUF_A ? FL_BUF_B : FL_BUF_A;
		from = b.off + b.len;
	}
	struct vr_error later = {0};
	vr_err fin = pipeline_finish(t, &running, rc == VR_OK ? err : &later);
	if (rc == VR_OK)
		rc = fin;
	if (rc == VR_OK)
		report(t, "programming", now_us(t) - start, 0, 0, len, len);
	return rc;
}

/* The next run of words to write directly: starts at a non-0xFF word and
 * ends before the next 0xFF word, so that no 0xFF word costs a tPROG (as
 * with the loader). */
#define DIRECT_GAP_WORDS 1u
#define DIRECT_RUN_MAX 16384u

static struct block next_run(const uint8_t *data, size_t total, size_t from)
{
	struct block b = {total, 0, 0};
	size_t start = from;
	while (start < total && word_is_blank(data + start))
		start += 4;
	if (start >= total)
		return b;
	size_t end = start, gap = 0;
	while (end < total && end - start < DIRECT_RUN_MAX) {
		gap = word_is_blank(data + end) ? gap + 1 : 0;
		end += 4;
		if (gap >= DIRECT_GAP_WORDS)
			break;
	}
	while (end > start && word_is_blank(data + end - 4))
		end -= 4;
	b.off = start;
	b.len = end - start;
	b.words = count_programmed_words(data + start, b.len);
	return b;
}

/* Direct path: WRITEMEM into flash with PG set; each word stalls the AHB
 * until programmed. Needs no CPU on the target, so it also serves where
 * our loader cannot run (valgrind runs without the emulator, a simulator
 * without a CPU), at the cost of no USB/flash overlap. */
static vr_err program_direct(struct stm32f4 *t, uint32_t addr, const uint8_t *data, size_t len,
			     struct vr_error *err)
{
	vr_err rc = wr32(t, FLASH_CR, CR_PG | CR_PSIZE_X32, err);
	uint64_t start = now_us(t);
	size_t from = 0;
	while (rc == VR_OK) {
		struct block b = next_run(data, len, from);
		if (b.len == 0)
			break;
		if (cancelled(t)) {
			rc = vr_fail(err, VR_ERR_INTERRUPTED,
				     "programming interrupted at 0x%08x (everything before it is "
				     "written)", addr + (uint32_t)b.off);
			break;
		}
		rc = wrmem(t, addr + (uint32_t)b.off, data + b.off, b.len, err);
		uint32_t sr = 0;
		if (rc == VR_OK)
			rc = wait_flash(t, "programming", 0, 0, 1000000u, &sr, err);
		if (rc == VR_OK && (sr & SR_ERRORS))
			rc = describe_sr_error(sr, addr + (uint32_t)b.off, "programming", err);
		t->stats.bytes_programmed += b.words * 4u;
		from = b.off + b.len;
		report(t, "programming", now_us(t) - start, 0, 0, from, len);
	}
	return rc;
}

static vr_err check_program_args(uint32_t addr, size_t len, struct vr_error *err)
{
	if ((addr & 3u) || (len & 3u))
		return vr_fail(err, VR_ERR_INPUT,
			       "cannot program %zu bytes at 0x%08x: address and length must be "
			       "multiples of 4", len, addr);
	if (addr < STM32F4_FLASH_BASE || addr >= FLASH_END || len > FLASH_END - addr)
		return vr_fail(err, VR_ERR_INPUT,
			       "0x%08x..0x%08zx is not inside the 1 MB flash (0x08000000-0x080FFFFF)",
			       addr, (size_t)addr + len);
	return VR_OK;
}

static uint16_t sectors_of_range(uint32_t addr, size_t len)
{
	uint16_t mask = 0;
	for (unsigned s = 0; s < STM32F4_SECTORS; s++) {
		uint32_t base = stm32f4_sector_address(s), size = stm32f4_sector_size(s);
		if (len && addr < base + size && addr + len > base)
			mask |= (uint16_t)(1u << s);
	}
	return mask;
}

/* Span of the image from its first to its last non-0xFF word. */
static void used_span(const uint8_t *data, size_t len, size_t *from, size_t *to)
{
	size_t a = 0, b = len;
	while (a < len && word_is_blank(data + a))
		a += 4;
	while (b > a && word_is_blank(data + b - 4))
		b -= 4;
	*from = a;
	*to = b;
}

/* First word the image would program over non-blank flash, 0 if none.
 * The common case (just erased) costs one CRC on the target; only a
 * non-blank span is read back to find the word. */
static vr_err find_conflict(struct stm32f4 *t, uint32_t addr, const uint8_t *data, size_t len,
			    uint32_t *conflict, struct vr_error *err)
{
	*conflict = 0;
	size_t from, to;
	used_span(data, len, &from, &to);
	bool blank = false;
	vr_err rc = stm32f4_blank_check(t, addr + (uint32_t)from, to - from, &blank, NULL, err);
	if (rc != VR_OK || blank)
		return rc;
	uint8_t *chip = malloc(FL_BUF_SIZE);
	if (!chip)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory");
	while (rc == VR_OK && !*conflict) {
		struct block b = next_block(data, len, from);
		if (b.len == 0)
			break;
		rc = stm32f4_read(t, addr + (uint32_t)b.off, chip, b.len, err);
		for (size_t i = 0; rc == VR_OK && i < b.len; i += 4) {
			if (!word_is_blank(data + b.off + i) && !word_is_blank(chip + i)) {
				*conflict = addr + (uint32_t)(b.off + i);
				break;
			}
		}
		from = b.off + b.len;
	}
	free(chip);
	return rc;
}

vr_err stm32f4_program(struct stm32f4 *t, uint32_t addr, const uint8_t *data, size_t len,
		       const struct stm32f4_write_opts *opts, struct vr_error *err)
{
	vr_err rc = check_program_args(addr, len, err);
	if (rc != VR_OK)
		return rc;
	size_t words = count_programmed_words(data, len);
	if (words == 0)
		return VR_OK;
	rc = flash_prepare(t, sectors_of_range(addr, len), "programming", err);
	if (rc != VR_OK)
		return rc;
	if (!(opts && opts->force)) {
		uint32_t conflict = 0;
		rc = find_conflict(t, addr, data, len, &conflict, err);
		if (rc == VR_OK && conflict)
			rc = vr_fail(err, VR_ERR_CONFIRM,
				     "flash at 0x%08x is not blank: programming without erasing would "
				     "AND the old and new bits together; erase first, or write anyway "
				     "with --force", conflict);
		if (rc != VR_OK) {
			struct vr_error ignored = {0};
			(void)flash_lock(t, &ignored);
			return rc;
		}
	}
	t->stats.bytes_skipped += len - words * 4u;
	/* the loader only once the target has run our code (the CRC self-test) */
	if (t->use_loader)
		choose_crc_engine(t);
	if (t->use_loader && t->crc_engine > 0)
		rc = program_with_loader(t, addr, data, len, err);
	else
		rc = program_direct(t, addr, data, len, err);
	struct vr_error ignored = {0};
	(void)flash_lock(t, rc == VR_OK ? err : &ignored);
	return rc;
}

/* ---- CRC on the target --------------------------------------------------------------- */
static vr_err crc_run(struct stm32f4 *t, uint32_t entry, uint32_t addr, size_t len,
		      uint32_t *crc, struct vr_error *err)
{
	uint64_t words = len / 4;
	/* CRC unit: a few cycles a word; software: ~130 cycles a word; 16 MHz HSI */
	uint64_t expect = entry == FL_ENTRY_CRC_HW ? words / 3 : words * 8;
	vr_err rc = loader_load(t, err);
	uint64_t started = now_us(t);
	if (rc == VR_OK)
		rc = loader_start(t, entry, addr, (uint32_t)len, 0, err);
	if (rc == VR_OK)
		rc = loader_wait(t, started, expect, 2000000u + expect * 4, crc, err);
	if (rc != VR_OK)
		return rc;
	/* the result means something only if it stopped on one of our BKPTs */
	size_t code_len;
	(void)flashloader_code(&code_len);
	uint32_t pc = 0;
	rc = rdreg(t, SWD_REG_PC, &pc, err);
	if (rc == VR_OK && (pc < FL_LOAD_ADDR || pc >= FL_LOAD_ADDR + code_len))
		return loader_crashed(t, err);
	return rc;
}

/* Picks how CRCs are computed: the CRC unit, checked against the host on
 * the loader's own bytes; else the loader's software CRC; else none
 * (readback). A simulator or clone without the unit lands on software. */
static void choose_crc_engine(struct stm32f4 *t)
{
	if (t->crc_engine >= 0)
		return;
	t->crc_engine = 0;
	struct vr_error ignored = {0};
	size_t len;
	const uint8_t *code = flashloader_code(&len);
	len &= ~(size_t)3u;
	uint32_t want = crc32_stm32(code, len);
	uint32_t got = 0;
	if (loader_load(t, &ignored) != VR_OK)
		return;
	if (set_bits(t, RCC_AHB1ENR, RCC_AHB1ENR_CRCEN, &ignored) == VR_OK &&
	    crc_run(t, FL_ENTRY_CRC_HW, FL_LOAD_ADDR, len, &got, &ignored) == VR_OK && got == want) {
		t->crc_engine = 1;
		return;
	}
	(void)stm32f4_halt(t, &ignored);
	if (crc_run(t, FL_ENTRY_CRC_SW, FL_LOAD_ADDR, len, &got, &ignored) == VR_OK && got == want)
		t->crc_engine = 2;
}

static vr_err crc_by_readback(struct stm32f4 *t, uint32_t addr, size_t len, uint32_t *crc,
			      struct vr_error *err)
{
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory");
	vr_err rc = stm32f4_read(t, addr, buf, len, err);
	if (rc == VR_OK)
		*crc = crc32_stm32(buf, len);
	free(buf);
	return rc;
}

vr_err stm32f4_crc(struct stm32f4 *t, uint32_t addr, size_t len, uint32_t *crc,
		   struct vr_error *err)
{
	if ((addr & 3u) || (len & 3u))
		return vr_fail(err, VR_ERR_INTERNAL, "unaligned CRC range 0x%08x+%zu", addr, len);
	if (!t->use_loader)
		return crc_by_readback(t, addr, len, crc, err);
	uint32_t dhcsr;
	vr_err rc = rd32(t, CM4_DHCSR, &dhcsr, err);
	if (rc == VR_OK && !(dhcsr & DHCSR_S_HALT))
		rc = stm32f4_halt(t, err);
	if (rc != VR_OK)
		return rc;
	choose_crc_engine(t);
	if (t->crc_engine == 1)
		return crc_run(t, FL_ENTRY_CRC_HW, addr, len, crc, err);
	if (t->crc_engine == 2)
		return crc_run(t, FL_ENTRY_CRC_SW, addr, len, crc, err);
	return crc_by_readback(t, addr, len, crc, err);
}

static uint32_t crc_of_blank(size_t len)
{
	uint8_t ff[256];
	memset(ff, 0xFF, sizeof ff);
	uint32_t crc = CRC32_STM32_INIT;
	for (size_t done = 0; done < len;) {
		size_t n = len - done < sizeof ff ? len - done : sizeof ff;
		crc = crc32_stm32_update(crc, ff, n);
		done += n;
	}
	return crc;
}

static size_t first_not_blank(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i + 4 <= len; i += 4)
		if (!word_is_blank(buf + i))
			return i;
	return len;
}

vr_err stm32f4_blank_check(struct stm32f4 *t, uint32_t addr, size_t len, bool *blank,
			   uint32_t *first_used, struct vr_error *err)
{
	if (first_used)
		*first_used = 0;
	uint32_t crc = 0;
	vr_err rc = VR_OK;
	if (!first_used) {
		rc = stm32f4_crc(t, addr, len, &crc, err);
		if (rc == VR_OK)
			*blank = crc == crc_of_blank(len);
		return rc;
	}
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory");
	rc = stm32f4_read(t, addr, buf, len, err);
	if (rc == VR_OK) {
		size_t at = first_not_blank(buf, len);
		*blank = at == len;
		if (!*blank)
			*first_used = addr + (uint32_t)at;
	}
	free(buf);
	return rc;
}

/* ---- verify ----------------------------------------------------------------------------- */
static size_t first_difference(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return i;
	return len;
}

static vr_err verify_span(struct stm32f4 *t, uint32_t addr, const uint8_t *data, size_t len,
			  uint32_t *first_diff, struct vr_error *err)
{
	uint32_t crc = 0;
	if (t->use_loader && stm32f4_crc(t, addr, len, &crc, err) == VR_OK &&
	    t->crc_engine > 0 && crc == crc32_stm32(data, len))
		return VR_OK;
	/* a mismatch (or no CRC on the target): read back to find where */
	uint8_t *chip = malloc(len ? len : 1);
	if (!chip)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory");
	vr_err rc = stm32f4_read(t, addr, chip, len, err);
	if (rc == VR_OK) {
		size_t at = first_difference(chip, data, len);
		if (at < len)
			*first_diff = addr + (uint32_t)at;
	}
	free(chip);
	return rc;
}

vr_err stm32f4_verify(struct stm32f4 *t, uint32_t addr, const uint8_t *data, size_t len,
		      uint32_t *first_diff, struct vr_error *err)
{
	*first_diff = 0;
	vr_err rc = check_program_args(addr, len, err);
	if (rc != VR_OK)
		return rc;
	/* one CRC over everything; sector by sector only to locate a mismatch */
	uint32_t crc = 0;
	struct vr_error ignored = {0};
	if (t->use_loader && stm32f4_crc(t, addr, len, &crc, &ignored) == VR_OK &&
	    t->crc_engine > 0 && crc == crc32_stm32(data, len)) {
		report(t, "verifying", 0, 0, 0, len, len);
		return VR_OK;
	}
	uint64_t start = now_us(t);
	for (unsigned s = 0; rc == VR_OK && s < STM32F4_SECTORS && !*first_diff; s++) {
		uint32_t base = stm32f4_sector_address(s), end = base + stm32f4_sector_size(s);
		uint32_t from = addr > base ? addr : base;
		uint32_t to = addr + (uint32_t)len < end ? addr + (uint32_t)len : end;
		if (from >= to)
			continue;
		if (cancelled(t))
			return vr_fail(err, VR_ERR_INTERRUPTED, "verify interrupted at 0x%08x", from);
		rc = verify_span(t, from, data + (from - addr), to - from, first_diff, err);
		report(t, "verifying", now_us(t) - start, 0, 0, to - addr, len);
	}
	if (rc == VR_OK && *first_diff) {
		size_t off = *first_diff - addr;
		return vr_fail(err, VR_ERR_OPERATION,
			       "verify failed: flash differs from the image first at 0x%08x "
			       "(image byte 0x%02x)", *first_diff, data[off]);
	}
	return rc;
}

/* ---- option bytes: RDP regression, WRP clearing --------------------------------------- */
static vr_err option_unlock(struct stm32f4 *t, struct vr_error *err)
{
	uint32_t optcr;
	vr_err rc = rd32(t, FLASH_OPTCR, &optcr, err);
	if (rc != VR_OK || !(optcr & OPTCR_OPTLOCK))
		return rc;
	rc = wr32(t, FLASH_OPTKEYR, FLASH_OPTKEY1, err);
	if (rc == VR_OK)
		rc = wr32(t, FLASH_OPTKEYR, FLASH_OPTKEY2, err);
	if (rc == VR_OK)
		rc = rd32(t, FLASH_OPTCR, &optcr, err);
	if (rc == VR_OK && (optcr & OPTCR_OPTLOCK))
		rc = vr_fail(err, VR_ERR_OPERATION,
			     "the option bytes refused their unlock keys (FLASH_OPTCR 0x%08x): "
			     "power-cycle the VESC and retry", optcr);
	return rc;
}

/* PM0059 "Modifying user option bytes": new value with OPTLOCK clear, then
 * again with OPTSTRT, wait for BSY, relock. */
static vr_err write_optcr(struct stm32f4 *t, uint32_t value, const char *what, uint64_t typ_us,
			  uint64_t max_us, struct vr_error *err)
{
	vr_err rc = option_unlock(t, err);
	uint32_t sr = 0;
	if (rc == VR_OK)
		rc = wait_flash(t, what, 0, 0, SECTOR_ERASE_TIMEOUT_US, &sr, err);
	if (rc == VR_OK && (sr & SR_ERRORS))
		rc = wr32(t, FLASH_SR, SR_CLEAR, err);
	value &= ~(OPTCR_OPTLOCK | OPTCR_OPTSTRT);
	if (rc == VR_OK)
		rc = wr32(t, FLASH_OPTCR, value, err);
	if (rc == VR_OK)
		rc = wr32(t, FLASH_OPTCR, value | OPTCR_OPTSTRT, err);
	if (rc == VR_OK)
		rc = wait_flash(t, what, typ_us, max_us, OPTION_TIMEOUT_US, &sr, err);
	if (rc == VR_OK && (sr & SR_ERRORS))
		rc = describe_sr_error(sr, STM32F4_FLASH_BASE, what, err);
	struct vr_error ignored = {0};
	(void)set_bits(t, FLASH_OPTCR, OPTCR_OPTLOCK, &ignored);
	if (rc != VR_OK)
		return vr_wrap(err, "%s", what);
	return VR_OK;
}

vr_err stm32f4_rdp_regress(struct stm32f4 *t, struct vr_error *err)
{
	struct stm32f4_options o;
	vr_err rc = stm32f4_read_options(t, &o, err);
	if (rc != VR_OK)
		return rc;
	if (o.rdp_level == 0)
		return VR_OK;
	if (o.rdp_level == 2)
		return vr_fail(err, VR_ERR_UNRECOVERABLE,
			       "read protection level 2 is permanent: this chip cannot be recovered");
	uint32_t value = (o.optcr & ~OPTCR_RDP_MASK) | (0xAAu << 8);
	/* the chip mass-erases itself; 33 s as OpenOCD allows (reference §5.6) */
	rc = write_optcr(t, value, "RDP regression (the chip erases all its flash)", 16000000u,
			 32000000u, err);
	t->loader_ready = false;
	t->crc_engine = -1;
	if (rc == VR_ERR_IO || rc == VR_ERR_TIMEOUT || rc == VR_ERR_FAULT)
		return vr_wrap(err, "the chip stopped answering while it erased itself, which some "
			       "parts do: wait 40 s, power-cycle the VESC and run the survey again");
	return rc;
}

vr_err stm32f4_wrp_clear(struct stm32f4 *t, struct vr_error *err)
{
	struct stm32f4_options o;
	vr_err rc = stm32f4_read_options(t, &o, err);
	if (rc != VR_OK)
		return rc;
	if ((o.nwrp & 0xFFFu) == 0xFFFu)
		return VR_OK;
	if (o.rdp_level != 0)
		return vr_fail(err, VR_ERR_PROTECTED,
			       "clearing write protection under RDP level %d would not be kept: "
			       "regress RDP first", o.rdp_level);
	return write_optcr(t, o.optcr | OPTCR_NWRP_MASK, "clearing write protection", 500000u,
			   2000000u, err);
}
