/* vesc-rescue's own STM32F4 flash loader (Thumb-2, Cortex-M4).
 *
 * Loaded into SRAM at FL_LOAD_ADDR (src/flashloader.h) and run by the host
 * through the debugger, one call per buffer: the host sets the argument
 * registers and PC, resumes the core with interrupts masked, and waits for
 * the BKPT. It uses no stack and no memory besides the buffer it is given,
 * so the host may fill the other buffer over SWD while this one runs.
 *
 * The bytes of this file live in src/flashloader.c as a C array;
 * tests/test_flashloader.c assembles this source and checks they match:
 *   arm-none-eabi-as -mcpu=cortex-m4 -mthumb flashloader.S -o fl.o
 *   arm-none-eabi-objcopy -O binary fl.o fl.bin
 * The entry offsets are FL_ENTRY_* in src/flashloader.h (checked with nm).
 *
 * Register addresses: RM0090 (FLASH at 0x40023C00: SR +0x0C, CR +0x10;
 * CRC unit at 0x40023000: DR +0x00, CR +0x08), see
 * ../shared/reference/stlink-swd-stm32f4.md §5.1. */
	.syntax unified
	.cpu cortex-m4
	.thumb
	.text

/* fl_program: r0 = source (SRAM), r1 = destination (flash), r2 = byte count
 * (a multiple of 4). The host has unlocked the flash and cleared SR.
 * Programs 32-bit words at PSIZE x32; words equal to 0xFFFFFFFF are skipped
 * (erased flash already holds them, and each skipped word saves a tPROG).
 * Out: r0 = 0 on success, else the SR value holding the error bits, with
 * r1 = the address that failed and r2 = the bytes left (counting it). */
	.global fl_program
	.thumb_func
fl_program:
	movw	r3, #0x3C00
	movt	r3, #0x4002		@ r3 = FLASH base
	movw	r4, #0x0201		@ CR = PG | PSIZE x32
	str	r4, [r3, #0x10]
	cbz	r2, .Lprog_ok
.Lprog_word:
	ldr	r4, [r0], #4
	adds	r5, r4, #1		@ 0xFFFFFFFF + 1 == 0: nothing to program
	beq	.Lprog_next
	str	r4, [r1]
.Lprog_busy:
	ldr	r5, [r3, #0x0C]		@ SR
	tst	r5, #0x10000		@ BSY
	bne	.Lprog_busy
	tst	r5, #0xF2		@ PGSERR PGPERR PGAERR WRPERR OPERR
	bne	.Lprog_fail
.Lprog_next:
	adds	r1, #4
	subs	r2, #4
	bhi	.Lprog_word
.Lprog_ok:
	movs	r0, #0
	b	.Lprog_end
.Lprog_fail:
	mov	r0, r5
.Lprog_end:
	movs	r4, #0			@ clear PG; LOCK is the host's business
	str	r4, [r3, #0x10]
	bkpt	#0

/* fl_crc_hw: r0 = address, r1 = byte count (a multiple of 4).
 * The STM32 CRC32 (poly 0x04C11DB7, init 0xFFFFFFFF, words as read) of the
 * range, computed by the CRC unit, which the host has clocked
 * (RCC_AHB1ENR.CRCEN). Out: r0 = CRC. One word per few cycles: a whole
 * sector takes milliseconds instead of a readback over USB. */
	.global fl_crc_hw
	.thumb_func
fl_crc_hw:
	movw	r3, #0x3000
	movt	r3, #0x4002		@ r3 = CRC base
	movs	r4, #1
	str	r4, [r3, #0x08]		@ CR.RESET: DR back to 0xFFFFFFFF
	cbz	r1, .Lhw_done
.Lhw_word:
	ldr	r4, [r0], #4
	str	r4, [r3]
	subs	r1, #4
	bhi	.Lhw_word
.Lhw_done:
	ldr	r0, [r3]
	bkpt	#0

/* fl_crc_sw: as fl_crc_hw, bit by bit in software, for when the CRC unit
 * cannot be used (the host's self-test of fl_crc_hw disagreed). Slower
 * (about 130 cycles a word) but still no USB traffic. */
	.global fl_crc_sw
	.thumb_func
fl_crc_sw:
	mvn	r2, #0			@ crc = 0xFFFFFFFF
	movw	r5, #0x1DB7
	movt	r5, #0x04C1		@ r5 = polynomial
	cbz	r1, .Lsw_done
.Lsw_word:
	ldr	r4, [r0], #4
	eors	r2, r4
	movs	r3, #32
.Lsw_bit:
	lsls	r2, r2, #1		@ carry = the bit shifted out
	it	cs
	eorcs	r2, r2, r5
	subs	r3, #1
	bne	.Lsw_bit
	subs	r1, #4
	bhi	.Lsw_word
.Lsw_done:
	mov	r0, r2
	bkpt	#0
