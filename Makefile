# qiki build.  `make` builds everything, `make test` runs every test,
# `make run` runs the loop, `make bench` the benchmarks.  V=1 shows commands.
# The rooms and what each may include: docs/design.md, mk/layers.sh.
.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:
.DEFAULT_GOAL := all

B       ?= build
PREFIX  ?= /usr/local
CC      ?= cc
ifeq ($(origin CC),default)
CC      := gcc
endif

PKGS    := liburing libprotobuf-c yaml-0.1
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS  ?= -O2 -g
CPPFLAGS += -I. -D_GNU_SOURCE
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) -pthread -MMD -MP
LDLIBS  := -pthread -lm

ifeq ($(V),1)
Q :=
say = @:
else
Q := @
say = @printf '  %-6s %s\n'
endif

# Deps are checked once per build dir, and again when the list changes.
DEPS_STAMP := $(B)/.deps-ok
$(DEPS_STAMP): mk/deps.sh
	@mkdir -p $(B)
	$(Q)./mk/deps.sh
	@touch $@

.PHONY: deps
deps:
	./mk/deps.sh

# pkg-config is asked only after deps ran (the first build installs them).
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# The rooms (see docs/design.md).  Each program is NAME:MAIN; every other
# source of the library rooms goes into libqiki.a.  A part with rules of its
# own adds to PROGRAMS from its mk/*.mk fragment.
LIB_ROOMS := shm rt $(patsubst %/,%,$(wildcard rt/*/)) ctl
PROGRAMS  := qiki:ctl/qiki.c qikictl:ctl/qikictl.c \
             qiki-agent:rt/agent/main.c qiki-sim:rt/sim/main.c

# Unit and stress tests mirror the rooms: tests/<room>/{test,stress}_*.c
# (tests/proto's are built by mk/telemetry.mk, which links protobuf-c).
TEST_SRCS := $(filter-out tests/proto/%,$(wildcard tests/*/test_*.c tests/*/stress_*.c))

# One build tree per variant: plain, asan (ASan+UBSan), tsan.
define variant
$(1)_DIR   := $(B)/$(1)
$(1)_LIB   := $$($(1)_DIR)/libqiki.a
$(1)_TESTS := $$(patsubst %.c,$$($(1)_DIR)/%,$$(TEST_SRCS))

$$($(1)_DIR)/%.o: %.c | $(DEPS_STAMP)
	$$(say) CC $$<
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(CPPFLAGS) $$(ALL_CFLAGS) $(2) $$(PKG_CFLAGS) -c -o $$@ $$<

$$($(1)_DIR)/tests/%: $$($(1)_DIR)/tests/%.o $$($(1)_LIB)
	$$(say) LD $$@
	$$(Q)$$(CC) $(2) -o $$@ $$< $$($(1)_LIB) $$(PKG_LIBS) -lcmocka $$(LDLIBS)

-include $$($(1)_TESTS:=.d)
endef

# The library of a variant, once every fragment has named its programs.
define variant_lib
$(1)_OBJS  := $$(patsubst %.c,$$($(1)_DIR)/%.o,$$(LIB_SRCS))
$$($(1)_LIB): $$($(1)_OBJS)
	$$(say) AR $$@
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
-include $$($(1)_OBJS:.o=.d)
endef

$(eval $(call variant,rel,))
$(eval $(call variant,asan,-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all))
$(eval $(call variant,tsan,-O1 -fsanitize=thread))

# Benchmarks: bench/<name>.c -> build/bench/bin/<name>
BENCHES := $(patsubst bench/%.c,$(B)/bench/bin/%,$(wildcard bench/*.c))
$(B)/bench/bin/%: $(rel_DIR)/bench/%.o $(rel_LIB)
	$(say) LD $@
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $< $(rel_LIB) $(PKG_LIBS) -lck $(LDLIBS)
-include $(patsubst bench/%.c,$(rel_DIR)/bench/%.d,$(wildcard bench/*.c))

# The allocation probe the loop tests preload (not a cmocka program).
ALLOC_PROBE := $(B)/rel/tests/libqkalloc.so
$(ALLOC_PROBE): tests/preload/allocount.c | $(DEPS_STAMP)
	$(say) CC $@
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 -O2 -Wall -Wextra -Werror -Wno-missing-prototypes -fPIC -shared -o $@ $<

# Parts with build rules of their own (telemetry, tracer, ...): mk/*.mk.
include $(wildcard mk/*.mk)

# Programs, after the fragments have added theirs: build/bin/NAME.
MAIN_SRCS := $(foreach p,$(PROGRAMS),$(lastword $(subst :, ,$(p))))
LIB_SRCS  := $(filter-out $(MAIN_SRCS),$(foreach r,$(LIB_ROOMS),$(wildcard $(r)/*.c)))
PROGS     := $(foreach p,$(PROGRAMS),$(B)/bin/$(firstword $(subst :, ,$(p))))
$(foreach v,rel asan tsan,$(eval $(call variant_lib,$(v))))
define program
$(B)/bin/$(1): $(rel_DIR)/$(2:.c=.o) $(rel_LIB)
	$$(say) LD $$@
	@mkdir -p $$(@D)
	$$(Q)$$(CC) -o $$@ $$< $(rel_LIB) $$(PKG_LIBS) $$(LDLIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call program,$(firstword $(subst :, ,$(p))),$(lastword $(subst :, ,$(p))))))
-include $(patsubst %.c,$(rel_DIR)/%.d,$(MAIN_SRCS))

.PHONY: all test test-unit layers run bench clean install
all: $(PROGS) $(rel_TESTS) $(BENCHES) $(ALLOC_PROBE)

test: all $(asan_TESTS) $(tsan_TESTS)
	$(Q)./mk/layers.sh
	$(Q)./tests/run.sh $(B)

# The include directions between the rooms (the table is in mk/layers.sh).
layers:
	$(Q)./mk/layers.sh

test-unit: $(rel_TESTS)
	$(Q)./tests/run.sh $(B) unit

run: $(PROGS)
	$(Q)$(B)/bin/qiki run --scenario examples/scenarios/demo.yaml $(RUN_ARGS)

bench: all
	$(Q)./bench/run.sh $(B)

install: $(PROGS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 ctl/qikictl.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 ctl/qikictl.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/qikictl

clean:
	rm -rf $(B)
