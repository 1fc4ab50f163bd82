/* The backup that comes before anything destructive (CONTRACTS.md §2, §5;
 * issue 4): every readable byte of every non-blank sector plus the option
 * bytes, in a new file (O_EXCL, O_NOFOLLOW, mode 0600), with a manifest
 * FILE.json (DEV_ID, UID, date, CRC-32 per sector, the survey's
 * conclusions). The file is fsync'd, read back and compared before the
 * caller may erase anything.
 *
 * File format: the raw 1 MiB flash image at offset 0 (blank sectors as
 * 0xFF, so `st-flash write FILE 0x08000000` restores it), then nothing
 * else; the option bytes and what each sector held live in the manifest. */
#ifndef VR_BACKUP_H
#define VR_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "hooks.h"
#include "observe.h"

#define BACKUP_FLASH_BYTES (1024u * 1024u)

struct stm32f4;

struct backup {
	uint8_t *flash;                 /* BACKUP_FLASH_BYTES, what the chip held */
	bool sector_read[F4_SECTORS];   /* bytes read from the chip (else blank or unreadable) */
	bool sector_blank[F4_SECTORS];
	uint32_t sector_crc[F4_SECTORS];   /* CRC-32/ISO-HDLC of each sector as saved */
	uint32_t optcr;
	char path[512];
	bool verified;                  /* written, synced, read back, equal */
};

void backup_init(struct backup *b);
void backup_free(struct backup *b);

/* The directory backups go to: $XDG_STATE_HOME/vesc-rescue, else
 * ~/.local/state/vesc-rescue (not created here). */
vr_err backup_dir(char *out, size_t cap, struct vr_error *err);

/* $XDG_STATE_HOME/vesc-rescue/backup-<uid>-<time>.bin, directories made 0700. */
vr_err backup_default_path(const uint8_t uid[12], char *out, size_t cap, struct vr_error *err);

/* Reads every non-blank sector the survey says is readable. Under RDP1
 * nothing is readable: VR_ERR_PROTECTED. */
vr_err backup_read_chip(struct backup *b, struct stm32f4 *t, const struct swd_obs *survey,
			const struct run_hooks *hooks, struct vr_error *err);

/* Before any reading: a backup path given by the person must not exist
 * (nor its manifest's). VR_ERR_USAGE naming it. */
vr_err backup_check_new(const char *path, struct vr_error *err);

/* Writes FILE and FILE.json as new files, syncs, reads FILE back and
 * compares. Stops (VR_ERR_IO / VR_ERR_ACCESS) on a full disk or an
 * unwritable directory, leaving no half file behind. */
vr_err backup_save(struct backup *b, const char *path, const struct swd_obs *survey,
		   struct vr_error *err);

/* Loads a backup made by backup_save (for `restore` and --restore-config):
 * checks size and the manifest's CRC per sector. */
vr_err backup_load(struct backup *b, const char *path, struct vr_error *err);

#endif
