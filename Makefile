# vesc-rescue: plain Makefile, C11, pkg-config.
#   make            build/vesc-rescue
#   make run        the dashboard (the real bench, or offers the simulated one)
#   make check      everything that checks the project (README's test command)
#   make check-quick  unit tests only (< 30 s)
#   make bench      figures, never pass/fail
# BUILD=dir puts outputs elsewhere (parallel builds by several people).

BUILD   ?= build
PREFIX  ?= /usr/local
MANPREFIX ?= $(PREFIX)/share/man
DESTDIR ?=
CC      ?= cc
PKGS    := ncursesw libusb-1.0 libserialport unicorn
TEST_PKGS := cmocka

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wpointer-arith -Wvla -Wundef -Wwrite-strings -Wcast-align \
        -Wno-unused-parameter
# Messages for people are cut at their buffer on purpose; gcc's truncation
# guesses about snprintf would only push us to larger buffers.
WARN += $(shell $(CC) -Werror -Wno-format-truncation -E -x c /dev/null >/dev/null 2>&1 && echo -Wno-format-truncation)
CFLAGS  ?= -O2 -g
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -pthread $(WARN) -I. -Isrc
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)
ALL_CFLAGS = $(BASE_CFLAGS) $(PKG_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lm -pthread $(EXTRA_LDFLAGS)

# Every module of the engine goes into one static library; main.c and the
# tests link against it. New modules need no Makefile change.
LIB_SRCS := $(sort $(wildcard src/*.c src/bench/*.c probes/*.c images/*.c ui/*.c) src/bench/facade/facade_chip.c)
LIB_SRCS := $(filter-out src/main.c,$(LIB_SRCS))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(sort $(wildcard tests/test_*.c))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TOOL_SRCS := $(sort $(wildcard tests/tool_*.c))
TOOL_BINS := $(TOOL_SRCS:tests/%.c=$(BUILD)/tests/%)
BENCH_SRCS := $(sort $(wildcard tests/bench_*.c))
BENCH_BINS := $(BENCH_SRCS:tests/%.c=$(BUILD)/tests/%)

# The libusb facade: the bench model behind a libusb-1.0 ABI, for LD_PRELOAD.
# It must not link libusb itself, nor carry sanitizers.
# bench.c joins the bench to the probes and images: the facade needs only
# the chip and the simulated ST-Link.
FACADE_SRCS := $(sort $(filter-out src/bench/bench.c,$(wildcard src/bench/facade/*.c src/bench/*.c src/vesc_proto.c))) src/crc.c src/errors.c
FACADE_OBJS := $(FACADE_SRCS:%.c=$(BUILD)/pic/%.o)
FACADE_SO   := $(BUILD)/libbench-usb.so

BIN := $(BUILD)/vesc-rescue

# Quiet by default; V=1 shows the commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

.PHONY: all run demo check check-quick check-e2e check-asan check-valgrind check-man \
        check-fuzz fuzz bench deps .deps-ok install uninstall install-udev clean

all: $(BIN) $(FACADE_SO)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC.pic  $<")
	$(Q)$(CC) $(BASE_CFLAGS) $(PKG_CFLAGS) -O2 -g -fPIC -fvisibility=hidden -DVR_FACADE -MMD -MP -c $< -o $@

$(BUILD)/libvr.a: $(LIB_OBJS)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BIN): $(BUILD)/obj/src/main.o $(BUILD)/libvr.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(FACADE_SO): $(FACADE_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -fPIC -o $@ $^ $(shell pkg-config --libs unicorn) -lm -pthread

$(BUILD)/tests/%: tests/%.c $(BUILD)/libvr.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -MMD -MP -o $@ $< $(BUILD)/libvr.a $(TEST_LIBS) $(LDLIBS_ALL)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# --- dependencies ------------------------------------------------------------
# make deps: install what is missing (as root), or print the command.
deps:
	@tests/deps.sh install

# run and check call deps first (CONTRACTS.md §7): dpkg -s on every
# package is quick when all are there.
.deps-ok:
	@tests/deps.sh install

# On a terminal: the dashboard. Without one the binary prints the probe
# report, whose status says what it found; `make run` itself succeeds then.
run: .deps-ok $(BIN)
	@$(BIN); status=$$?; if [ -t 1 ]; then exit $$status; fi

demo: .deps-ok $(BIN)
	@$(BIN) --sim corrupt-app; status=$$?; if [ -t 1 ]; then exit $$status; fi

# --- tests -------------------------------------------------------------------
check-quick: $(TEST_BINS)
	@tests/run-unit.sh $(TEST_BINS)

check-e2e: $(BIN) $(FACADE_SO) $(TOOL_BINS)
	@BUILD=$(BUILD) tests/run-e2e.sh

check-man: $(BIN)
	@BUILD=$(BUILD) tests/check-man.sh

check-asan:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan CC=clang \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -O1" \
	  EXTRA_LDFLAGS="-fsanitize=address,undefined" check-quick check-e2e

check-valgrind: $(BIN)
	@BUILD=$(BUILD) tests/run-valgrind.sh

FUZZ_SECONDS ?= 20
check-fuzz:
	@BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run-fuzz.sh

fuzz:
	@BUILD=$(BUILD) FUZZ_SECONDS=$${FUZZ_SECONDS:-600} tests/run-fuzz.sh

check: .deps-ok
	@$(MAKE) --no-print-directory check-quick
	@$(MAKE) --no-print-directory check-e2e
	@$(MAKE) --no-print-directory check-man
	@$(MAKE) --no-print-directory check-asan
	@$(MAKE) --no-print-directory check-valgrind
	@$(MAKE) --no-print-directory check-fuzz

bench: $(BIN) $(FACADE_SO) $(BENCH_BINS) $(TOOL_BINS)
	@BUILD=$(BUILD) tests/run-bench.sh

# --- install -------------------------------------------------------------------
COMPDIR ?= $(PREFIX)/share/bash-completion/completions

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANPREFIX)/man1 $(DESTDIR)$(COMPDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/vesc-rescue
	install -m 0644 man/vesc-rescue.1 $(DESTDIR)$(MANPREFIX)/man1/vesc-rescue.1
	install -m 0644 src/completion.bash $(DESTDIR)$(COMPDIR)/vesc-rescue

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vesc-rescue $(DESTDIR)$(MANPREFIX)/man1/vesc-rescue.1 \
	      $(DESTDIR)$(COMPDIR)/vesc-rescue

install-udev: $(BIN)
	install -d $(DESTDIR)/etc/udev/rules.d
	$(BIN) --udev-rules > $(DESTDIR)/etc/udev/rules.d/70-vesc-rescue.rules

clean:
	rm -rf $(BUILD)
