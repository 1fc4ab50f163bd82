#include "ui/guide.h"

/* Facts: VESC header order from the VESC boards' silkscreen (and seed 002
 * #4); clone labels from seed 002 and CONTRACTS §5; genuine 20-pin from ST's
 * UM1075; NRST is pin 7 of the STM32F405 in LQFP64 (datasheet pinout). */
static const char *const wiring_lines[] = {
	"WIRING: VESC <-> ST-Link (SWD)",
	"",
	"VESC SWD header (6-pin JST-PH), in the order printed on the board:",
	"    3.3V   CLK   GND   DIO   RST   SWO",
	"  Needed: CLK, DIO, GND. RST only for connect-under-reset. SWO: not needed.",
	"  3.3V: only to a genuine ST-Link's VTref (it senses). See POWER.",
	"",
	"FOCBOX and boards with pads instead of a header: pads labelled",
	"  RST, DIO, CLK, GND, 3.3V.  Match them by label, not by position:",
	"  RST-RST  DIO-SWDIO  CLK-SWCLK  GND-GND.",
	"",
	"ST-Link V2 CLONE (USB stick, 10-pin header; labels differ by maker):",
	"  label on the clone   what it really is         connect to VESC",
	"  3.3V / VDD / 3V3     the clone's OWN 3.3 V     nothing (see POWER)",
	"                       output, not a sense pin",
	"  SWDIO / DIO / SWD    SWD data                  DIO",
	"  SWCLK / CLK          SWD clock                 CLK",
	"  GND                  ground                    GND",
	"  RST / NRST           target reset (NRST)       RST (under-reset only)",
	"  second RST pin       SWIM reset, STM8 only     nothing",
	"  DATA                 usually SWO, on some      nothing (not needed)",
	"                       clones SWIM data",
	"  SWIM                 STM8 only (SWIM data)     nothing",
	"  5V / 5.0V            5 V output                NEVER",
	"  Some clones carry two RST pins: only one is NRST, the other resets",
	"  STM8 chips. If connect-under-reset fails, try the other RST.",
	"",
	"GENUINE ST-LINK/V2 (20-pin ARM JTAG/SWD connector):",
	"  pin 1  VTref  senses the VESC's 3.3 V: connect it to 3.3V (it does",
	"                not supply anything)",
	"  pin 7  SWDIO -> DIO      pin 9  SWCLK -> CLK",
	"  pin 15 NRST  -> RST      pin 13 SWO   (not needed)",
	"  even pins 4..20: GND -> GND",
	"",
	"POWER",
	"  Power the VESC from its battery leads (or a bench supply) while the",
	"  ST-Link is connected, and then do NOT connect the clone's 3.3 V pin:",
	"  two supplies on the 3.3 V rail can back-feed and kill the VESC's",
	"  regulator. A genuine ST-Link needs VTref connected to read VDD.",
	"  The voltage the tool shows comes from that pin: a clone shows its own",
	"  ~3.2 V even with nothing attached, so it proves nothing there.",
	"",
	"NRST",
	"  Needed only when a broken app disables SWD or sleeps at once",
	"  (connect-under-reset). Four wires (CLK DIO GND, +VTref) do the rest.",
	"",
	"THE MANUAL NRST TRICK (RST not wired, or no RST pin on the probe)",
	"  NRST is pin 7 of the STM32F405 (LQFP64 package, count from the dot).",
	"  When the tool asks: hold pin 7 to GND with a fine wire or tweezers,",
	"  press Enter, and release when told. The chip stays in reset while the",
	"  ST-Link attaches, so the broken app never runs.",
	"",
	"Keep SWD wires short (under 20 cm): the tool slows the clock if needed.",
};

static const char *const help_lines[] = {
	"HELP: the vesc-rescue dashboard",
	"",
	"Panes",
	"  Link    USB devices by kind, and what each serial port answered",
	"  Target  voltage, SWD attach rung, DEV_ID, RDP, the 12-sector map,",
	"          firmware and bootloader verdicts",
	"  Plan    the recovery steps: done, current, failed, skipped, pending;",
	"          below them, why the current step",
	"  Log     the transcript (also in --log FILE)",
	"",
	"Keys",
	"  r       probe again (read-only)",
	"  Enter   run the current step",
	"  a       run on, stopping at every confirmation",
	"  w       wiring guide",
	"  i       choose images: bootloader / firmware files, or a VESC Tool",
	"          firmware tree and the HW name",
	"  b       where the backup went",
	"  l       the transcript, full screen",
	"  s       rehearse on the simulated bench (never switches by itself)",
	"  ?       this help",
	"  q       quit; during an erase or write it refuses and offers to quit",
	"          when the step is done (c: stop a write at the next block)",
	"  PgUp/PgDn  scroll the Log pane (End: back to the latest line)",
	"  Ctrl-L  redraw the screen",
	"",
	"Sector map (one cell per sector, 0 to 11)",
	"  A app   C config   S staging   D data   B bootloader",
	"  . blank   P write protected   ? unknown",
	"",
	"Nothing is erased or written without a backup and your explicit y.",
	"Confirmations default to No: Enter, n and Esc all answer no.",
};

const char *const *guide_wiring(size_t *n_lines)
{
	*n_lines = sizeof wiring_lines / sizeof wiring_lines[0];
	return wiring_lines;
}

const char *const *guide_help(size_t *n_lines)
{
	*n_lines = sizeof help_lines / sizeof help_lines[0];
	return help_lines;
}
