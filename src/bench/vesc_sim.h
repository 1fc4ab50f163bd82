/* A simulated VESC on a pseudo-terminal: what the probes meet on a USB CDC
 * port or a UART adapter. A thread serves the pty master; the slave path
 * (vesc_sim_port) is opened like any serial port.
 *
 * Its receive side is its own model of the firmware's packet decoder
 * (reference vesc-protocol-and-flash.md §1.3–1.4), written separately from
 * the host decoder in vesc_proto.c so that tests of one catch the other:
 *   FW >= 5.03   scanning decoder, 512-byte payloads, no idle timeout
 *                (a stale partial frame blocks until flushed);
 *   3.48 – 5.02  the same, reset after 1 s without a byte;
 *   3.29 – 3.47  byte state machine, 1024 bytes, 1 s timeout;
 *   <= 3.28      byte state machine, 2 ms timeout.
 * Replies are framed as that firmware frames them, FW_VERSION carries the
 * fields of its generation (§3), and the USB update commands (§4.6) act
 * on a flash model.
 *
 * Depends only on crc, errors and vesc_proto (constants and big-endian
 * helpers), libc and pthreads: it is also built into the libusb facade. */
#ifndef VR_BENCH_VESC_SIM_H
#define VR_BENCH_VESC_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

enum vesc_sim_behaviour {
	VESC_SIM_HEALTHY = 0,   /* firmware running, answers */
	VESC_SIM_SILENT,        /* port there, no firmware answering */
	VESC_SIM_NOISE,         /* random bytes, never a frame */
	VESC_SIM_SLOW,          /* answers after reply_delay_ms */
	VESC_SIM_PARTIAL,       /* the first reply stops halfway, then silence */
	/* Answers only while the port's termios speed is cfg.baud. Otherwise
	 * its decoder gets garbage and the host gets garbage back (one byte
	 * per byte sent, never a start byte): the "noise at this rate" a baud
	 * scan looks for. A real VESC at the wrong rate may as well stay
	 * silent; that case is VESC_SIM_SILENT. */
	VESC_SIM_WRONG_BAUD,
	VESC_SIM_DISCONNECT,    /* half a reply, then the port goes away */
	VESC_SIM_ECHO,          /* loopback: every byte comes back */
	VESC_SIM_NMEA,          /* a GPS: NMEA sentences, requests ignored */
	VESC_SIM_NOISY_LINK,    /* correct replies with line noise around them */
	VESC_SIM_BEHAVIOUR_COUNT_
};

/* The flash the update commands act on: 1 MiB at 0x08000000. flash()
 * returns its bytes; lock/unlock bracket every access (may be NULL). */
struct vesc_sim_flash {
	void *ctx;
	uint8_t *(*flash)(void *ctx);
	void (*lock)(void *ctx);
	void (*unlock)(void *ctx);
};

#define VESC_SIM_FLASH_BASE 0x08000000u
#define VESC_SIM_FLASH_SIZE (1024u * 1024u)

struct vesc_sim_config {
	enum vesc_sim_behaviour behaviour;
	int fw_major, fw_minor;        /* 6.05 by default */
	int test_version;              /* 0 release */
	int pairing_done;
	char hw_name[32];              /* "60" */
	char fw_name[32];              /* "" */
	uint8_t uuid[12];
	uint32_t hw_conf_crc;
	/* FW < 3.48 only: before each FW_VERSION reply, send a 256-byte frame
	 * framed with the old sender's "02 00" header bug. */
	bool old_length_bug;
	unsigned reply_delay_ms;       /* VESC_SIM_SLOW: 800 */
	/* Erase replies come this much later per 128 KiB sector erased (the
	 * F405 datasheet: 1-2 s typical at x32). 0 by default: instant. */
	unsigned erase_ms_per_sector;
	unsigned baud;                 /* VESC_SIM_WRONG_BAUD: the VESC's UART rate, 115200 */
	/* VESC_SIM_WRONG_BAUD: what it receives at the wrong rate reaches its
	 * decoder as arbitrary bytes, start bytes included, as on a real UART:
	 * a stale partial frame may be left behind, which on FW >= 5.03
	 * blocks the first request at the right rate until flushed. Off by
	 * default: then the garbage can never start a frame. */
	bool garble_decoder;
	unsigned noise_len;            /* bytes per noise burst: 48 */
	unsigned period_ms;            /* NOISE and NMEA: one burst/sentence every period_ms: 100 */
	uint32_t seed;                 /* noise generator */
	const struct vesc_sim_flash *flash;   /* NULL: a private 1 MiB flash, all 0xFF */
	/* COMM_JUMP_TO_BOOTLOADER: called from the sim's thread after the
	 * port went away (the bench runs the bootloader model). May be NULL. */
	void (*on_jump)(void *ctx);
	void *on_jump_ctx;
};

/* Healthy 6.05 "60", fixed UUID, the defaults noted above. */
void vesc_sim_config_defaults(struct vesc_sim_config *cfg);
const char *vesc_sim_behaviour_name(enum vesc_sim_behaviour b);

struct vesc_sim;

vr_err vesc_sim_start(const struct vesc_sim_config *cfg, struct vesc_sim **out,
		      struct vr_error *err);
/* Stops the thread, closes the pty and frees everything. NULL is fine. */
void vesc_sim_stop(struct vesc_sim *sim);

/* "/dev/pts/N": the path the probes open. */
const char *vesc_sim_port(const struct vesc_sim *sim);

struct vesc_sim_stats {
	unsigned long bytes_in, bytes_out;
	unsigned requests;             /* frames the firmware decoder accepted */
	unsigned frames_answered;      /* reply frames sent (or begun) */
	unsigned fw_version_requests;
	unsigned sector_erases;
	unsigned writes, write_failures;
	bool jumped;                   /* COMM_JUMP_TO_BOOTLOADER received */
	bool gone;                     /* the master is closed: the port went away */
};

void vesc_sim_get_stats(struct vesc_sim *sim, struct vesc_sim_stats *out);

/* Copies flash bytes (under the flash lock); VR_ERR_INTERNAL outside the
 * 1 MiB. */
vr_err vesc_sim_read_flash(struct vesc_sim *sim, uint32_t addr, void *buf, size_t len,
			   struct vr_error *err);

#endif
