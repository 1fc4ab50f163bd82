#include "observe.h"

#define NAME_OF(table, value) \
	(((unsigned)(value) < sizeof(table) / sizeof((table)[0]) && (table)[value]) ? (table)[value] : "unknown")

const char *usb_kind_name(enum usb_kind kind)
{
	static const char *const names[] = {
		[USB_KIND_OTHER] = "other", [USB_KIND_VESC_CDC] = "vesc-cdc",
		[USB_KIND_STLINK] = "stlink", [USB_KIND_STLINK_BOOT] = "stlink-bootloader",
		[USB_KIND_STM32_DFU] = "stm32-dfu", [USB_KIND_UART_BRIDGE] = "uart-bridge",
		[USB_KIND_ESP32] = "esp32",
	};
	return NAME_OF(names, kind);
}

const char *serial_status_name(enum serial_status s)
{
	static const char *const names[] = {
		[SERIAL_VESC] = "vesc", [SERIAL_SILENT] = "silent", [SERIAL_NOISE] = "noise",
		[SERIAL_ECHO] = "echo", [SERIAL_OTHER] = "other", [SERIAL_ERROR] = "error",
	};
	return NAME_OF(names, s);
}

const char *attach_result_name(enum attach_result a)
{
	static const char *const names[] = {
		[ATTACH_NOT_TRIED] = "not-tried", [ATTACH_NORMAL] = "normal",
		[ATTACH_UNDER_RESET] = "under-reset", [ATTACH_SLOW_CLOCK] = "slow-clock",
		[ATTACH_MANUAL_RESET] = "manual-reset", [ATTACH_FAILED] = "failed",
	};
	return NAME_OF(names, a);
}

const char *sector_state_name(enum sector_state s)
{
	static const char *const names[] = {
		[SECTOR_UNKNOWN] = "unknown", [SECTOR_BLANK] = "blank", [SECTOR_APP] = "app",
		[SECTOR_CONFIG] = "config", [SECTOR_STAGING] = "staging",
		[SECTOR_BOOTLOADER] = "bootloader", [SECTOR_DATA] = "data",
		[SECTOR_PROTECTED] = "protected",
	};
	return NAME_OF(names, s);
}

const char *bl_kind_name(enum bl_kind k)
{
	static const char *const names[] = {
		[BL_KIND_UNKNOWN] = "unknown", [BL_KIND_GENERIC] = "generic",
		[BL_KIND_HW40] = "hw40", [BL_KIND_HW60] = "hw60", [BL_KIND_OLD] = "old",
	};
	return NAME_OF(names, k);
}

const char *fw_verdict_name(enum fw_verdict v)
{
	static const char *const names[] = {
		[FW_UNKNOWN] = "unknown", [FW_PRESENT] = "present",
		[FW_ABSENT] = "absent", [FW_CORRUPT] = "corrupt",
	};
	return NAME_OF(names, v);
}

const char *bl_verdict_name(enum bl_verdict v)
{
	static const char *const names[] = {
		[BL_UNKNOWN] = "unknown", [BL_PRESENT] = "present", [BL_ABSENT] = "absent",
	};
	return NAME_OF(names, v);
}
