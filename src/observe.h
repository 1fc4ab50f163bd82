/* Observations: what the probes saw, as plain data. Probes write them, the
 * planner, the verdict, the reports and the dashboard only read them.
 * Fixed-size arrays keep them copyable and the planner free of allocation. */
#ifndef VR_OBSERVE_H
#define VR_OBSERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"

#define OBS_MAX_USB 32
#define OBS_MAX_SERIAL 32
#define OBS_MAX_RUNGS 8
#define F4_SECTORS 12

/* ---- USB ------------------------------------------------------------- */
enum usb_kind {
	USB_KIND_OTHER = 0,
	USB_KIND_VESC_CDC,     /* 0483:5740: a VESC only once FW_VERSION answers */
	USB_KIND_STLINK,       /* any ST-Link debug interface */
	USB_KIND_STLINK_BOOT,  /* V3 bootloader PIDs 374d/3755: not usable as a probe */
	USB_KIND_STM32_DFU,    /* 0483:df11, BOOT0 high */
	USB_KIND_UART_BRIDGE,  /* CP210x, FTDI, CH34x, PL2303 */
	USB_KIND_ESP32,        /* VESC Express and friends */
};

struct usb_obs {
	uint16_t vid, pid;
	enum usb_kind kind;
	char model[40];        /* "ST-LINK/V2-1", "CP2102", "ChibiOS/RT Virtual COM Port" */
	char manufacturer[48];
	char product[48];
	char serial[64];
	char path[24];         /* "1-1.4" (bus-port chain) */
	char tty[64];          /* the /dev/tty* that belongs to it, if any */
	vr_err access;         /* VR_OK, or why it could not be opened */
	char error[200];       /* what to do about it */
};

/* ---- serial / UART ---------------------------------------------------- */
enum serial_status {
	SERIAL_VESC = 0,  /* a CRC-valid COMM_FW_VERSION reply */
	SERIAL_SILENT,    /* not a byte */
	SERIAL_NOISE,     /* bytes, but no valid frame */
	SERIAL_ECHO,      /* our own request came back: RX/TX bridged or loopback */
	SERIAL_OTHER,     /* a talking non-VESC device (NMEA text...) */
	SERIAL_ERROR,     /* could not open or use the port */
};

struct fw_version {
	int major, minor;          /* -1 when unknown */
	char hw_name[32];
	bool has_uuid;
	uint8_t uuid[12];
	int pairing_done;          /* -1: field absent (older firmware) */
	int test_version;          /* -1: absent; 0 release; N beta N */
	int hw_type;               /* -1 absent; 0 VESC, 1 BMS, 2 custom module */
	int custom_config_count;
	int has_phase_filters, qml_hw, qml_app, nrf_flags;
	char fw_name[32];
	bool has_hw_conf_crc;
	uint32_t hw_conf_crc;
	unsigned payload_len;      /* how long the reply was: tells the generation */
};

struct serial_obs {
	char port[128];
	enum serial_status status;
	unsigned baud;             /* the rate that answered (UART), or 0 for CDC */
	bool is_uart;              /* probed as a UART adapter (--uart) */
	uint16_t vid, pid;         /* from libserialport, 0 when not USB */
	char usb_serial[64];
	struct fw_version fw;      /* valid when status == SERIAL_VESC */
	unsigned frames, crc_errors, noise_bytes;
	unsigned reply_ms;         /* time to the first valid frame */
	vr_err err;                /* with SERIAL_ERROR */
	char error[200];           /* errno text and the fix */
	char detail[200];          /* one-line cause for the person */
};

/* ---- SWD -------------------------------------------------------------- */
enum attach_result {
	ATTACH_NOT_TRIED = 0,
	ATTACH_NORMAL,
	ATTACH_UNDER_RESET,
	ATTACH_SLOW_CLOCK,
	ATTACH_MANUAL_RESET,
	ATTACH_FAILED,
};

struct swd_rung {
	enum attach_result rung;   /* which rung this was */
	bool ok;
	uint32_t dpidr;            /* 0 if none read */
	char saw[320];             /* what it saw, in words */
};

enum sector_state {
	SECTOR_UNKNOWN = 0,
	SECTOR_BLANK,
	SECTOR_APP,
	SECTOR_CONFIG,
	SECTOR_STAGING,
	SECTOR_BOOTLOADER,
	SECTOR_DATA,
	SECTOR_PROTECTED,
};

struct sector_obs {
	unsigned index;
	uint32_t address, size;
	enum sector_state state;
	bool blank;
	bool crc_known;
	uint32_t crc32;            /* CRC-32/ISO-HDLC of the sector's bytes */
};

enum crcinfo_state {
	CRCINFO_UNKNOWN = 0,
	CRCINFO_NEVER_BOOTED,      /* flag and CRC still 0xFFFFFFFF */
	CRCINFO_BOOTED,            /* flag 0, CRC stored */
	CRCINFO_GARBAGE,
};

enum bl_kind {
	BL_KIND_UNKNOWN = 0,
	BL_KIND_GENERIC,           /* 5280 B, compression-capable */
	BL_KIND_HW40,              /* 5776 B */
	BL_KIND_HW60,              /* 5776 B */
	BL_KIND_OLD,               /* 3792 / 4272 / 4288 B, cannot install FW >= 6.00 */
};

struct app_obs {
	bool vector_valid;         /* SP in SRAM/CCM, reset odd and inside the app */
	uint32_t sp, reset;
	int fw_gen;                /* 6: crcinfo at 0x0807FFF0, 5: at 0x0805FFF0, 0 unknown */
	enum crcinfo_state crcinfo;
	bool crc_checked, crc_ok;  /* STM32 CRC32 residue over the app is 0 */
	uint32_t image_end;        /* last non-0xFF byte + 1, 0 if blank */
};

struct bootloader_obs {
	bool present;              /* a vector table shaped like a VESC bootloader */
	bool blank;
	enum bl_kind kind;
	uint32_t sp, reset;
	uint32_t size_guess;       /* bytes up to the last non-0xFF */
	bool hash_known;           /* size and SHA-256 match a released file */
};

struct staging_obs {
	bool pending;              /* a plausible 6-byte header at 0x08080000 */
	uint32_t size;
	bool compressed;
	bool crc_ok;
};

struct swd_obs {
	bool tried;
	bool probe_found;
	vr_err probe_err;          /* why no probe could be used */
	char probe_error[200];
	char probe_name[32], probe_version[32], probe_serial[64];
	uint16_t probe_pid;
	bool voltage_known;
	double voltage;
	enum attach_result attach;
	struct swd_rung ladder[OBS_MAX_RUNGS];
	unsigned n_rungs;
	bool target_found;
	uint32_t dpidr, cpuid, dev_id, rev_id;
	char target_name[48];      /* "STM32F40x/F41x" */
	unsigned flash_kb;
	uint8_t uid[12];
	int rdp;                   /* 0, 1, 2; -1 unknown */
	uint32_t optcr;
	uint16_t nwrp;             /* bit i = 0: sector i write protected */
	bool survey_done;
	struct sector_obs sectors[F4_SECTORS];
	struct app_obs app;
	struct bootloader_obs bootloader;
	struct staging_obs staging;
	char advice[512];          /* wiring / power explanation when attach failed */
};

struct observations {
	struct usb_obs usb[OBS_MAX_USB];
	unsigned n_usb;
	bool usb_error;            /* libusb itself failed */
	char usb_error_text[200];
	struct serial_obs serial[OBS_MAX_SERIAL];
	unsigned n_serial;
	struct swd_obs swd;
	bool simulated;
	char sim_name[48];
};

/* ---- verdict ---------------------------------------------------------- */
enum fw_verdict { FW_UNKNOWN = 0, FW_PRESENT, FW_ABSENT, FW_CORRUPT };
enum bl_verdict { BL_UNKNOWN = 0, BL_PRESENT, BL_ABSENT };

struct verdict {
	enum fw_verdict firmware;
	enum bl_verdict bootloader;
	enum bl_kind bl_kind;
	int answering_serial;      /* index into serial[], -1 none */
	char summary[512];
	char next[400];
	int exit_status;
};

const char *usb_kind_name(enum usb_kind kind);          /* "vesc", "stlink", ... */
const char *serial_status_name(enum serial_status s);   /* JSON names */
const char *attach_result_name(enum attach_result a);   /* "normal", "under-reset"... */
const char *sector_state_name(enum sector_state s);
const char *bl_kind_name(enum bl_kind k);               /* "generic", "hw40", ... */
const char *fw_verdict_name(enum fw_verdict v);
const char *bl_verdict_name(enum bl_verdict v);

#endif
