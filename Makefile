# SPDX-License-Identifier: MIT OR Apache-2.0
# qiki build.  `make` builds everything, `make test` runs every test,
# `make run` runs the loop, `make bench` the benchmarks, `make install`
# installs (DESTDIR, PREFIX, BINDIR, LIBEXECDIR, LIBDIR, ...).  V=1 shows
# commands; WERROR=1 makes warnings errors (CI sets it); NO_DEPS=1 installs
# no Debian package and only checks (mk/deps.sh).  CC, CFLAGS, CPPFLAGS,
# LDFLAGS, AR and PKG_CONFIG from the environment reach every compile and link.
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
ifeq ($(origin AR),default)
AR      := ar
endif
PKG_CONFIG ?= pkg-config

PKGS    := liburing libprotobuf-c yaml-0.1
# -Werror only where asked: a newer compiler's new warning must not break a
# user's build.  CI asks (.ci/run).
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(WERROR),1)
WARN    += -Werror
endif
CFLAGS  ?= -O2 -g
CPPFLAGS += -I. -D_GNU_SOURCE
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) -pthread -MMD -MP
# Bind every symbol at start-up: a lazily bound PLT entry would be resolved
# (a page fault, a lock in ld.so) on the first call, i.e. on the hot path.
QK_LDFLAGS := -Wl,-z,now -Wl,-z,relro
ALL_LDFLAGS = $(QK_LDFLAGS) $(LDFLAGS)
LDLIBS  := -pthread -lm -ldl

ifeq ($(V),1)
Q :=
say = @:
else
Q := @
say = @printf '  %-6s %s\n'
endif

# Deps by purpose (mk/deps.sh): each group is checked once per build dir,
# and again when the list changes.  Building needs `build`; the unit tests
# `test`; the benchmarks `bench`.  NO_DEPS=1 only checks.
DEPS_STAMP   := $(B)/.deps-build
DEPS_TEST    := $(B)/.deps-test
DEPS_BENCH   := $(B)/.deps-bench
DEPS_TRACER  := $(B)/.deps-tracer
$(B)/.deps-%: mk/deps.sh
	@mkdir -p $(B)
	$(Q)PKG_CONFIG="$(PKG_CONFIG)" ./mk/deps.sh $*
	@touch $@

.PHONY: deps
deps:
	PKG_CONFIG="$(PKG_CONFIG)" ./mk/deps.sh $(DEPS_GROUPS)

# pkg-config is asked only after deps ran (the first build installs them).
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

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
	$$(Q)$$(CC) $$(CFLAGS) $(2) $$(ALL_LDFLAGS) -o $$@ $$< $$($(1)_LIB) $$(PKG_LIBS) -lcmocka $$(LDLIBS)

# the tests' objects include cmocka.h: they need the test packages
$$($(1)_TESTS:=.o): | $(DEPS_TEST)

-include $$($(1)_TESTS:=.d)
endef

# The library of a variant, once every fragment has named its programs.
define variant_lib
$(1)_OBJS  := $$(patsubst %.c,$$($(1)_DIR)/%.o,$$(LIB_SRCS))
$$($(1)_LIB): $$($(1)_OBJS)
	$$(say) AR $$@
	$$(Q)rm -f $$@ && $$(AR) rcs $$@ $$^
-include $$($(1)_OBJS:.o=.d)
endef

$(eval $(call variant,rel,))
$(eval $(call variant,asan,-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all))
$(eval $(call variant,tsan,-O1 -fsanitize=thread))
# position-independent objects for libqiki.so (the programs link the plain ones)
$(eval $(call variant,pic,-fPIC))

# Benchmarks: bench/<name>.c -> build/bench/bin/<name>
BENCHES := $(patsubst bench/%.c,$(B)/bench/bin/%,$(wildcard bench/*.c))
$(B)/bench/bin/%: $(rel_DIR)/bench/%.o $(rel_LIB)
	$(say) LD $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(rel_LIB) $(PKG_LIBS) -lck $(LDLIBS)
-include $(patsubst bench/%.c,$(rel_DIR)/bench/%.d,$(wildcard bench/*.c))
$(patsubst bench/%.c,$(rel_DIR)/bench/%.o,$(wildcard bench/*.c)): | $(DEPS_BENCH)

# The allocation probe the loop tests preload (not a cmocka program).
ALLOC_PROBE := $(B)/rel/tests/libqkalloc.so
$(ALLOC_PROBE): tests/preload/allocount.c | $(DEPS_TEST)
	$(say) CC $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -std=c11 $(WARN) -Wno-missing-prototypes $(CFLAGS) -fPIC -shared \
		$(ALL_LDFLAGS) -o $@ $<

# Parts with build rules of their own (telemetry, tracer, ...): mk/*.mk.
# Their rules compile with $(CC) $(CPPFLAGS) $(ALL_CFLAGS), link with
# $(CC) $(CFLAGS) $(ALL_LDFLAGS), archive with $(AR), ask $(PKG_CONFIG),
# order their objects after $(DEPS_STAMP) (or $(DEPS_TEST) for tests), and
# name a program with a link rule of its own in INSTALL_PROGS (mk/pkg.mk).
include $(wildcard mk/*.mk)

# Programs, after the fragments have added theirs: build/bin/NAME.
MAIN_SRCS := $(foreach p,$(PROGRAMS),$(lastword $(subst :, ,$(p))))
LIB_SRCS  := $(filter-out $(MAIN_SRCS),$(foreach r,$(LIB_ROOMS),$(wildcard $(r)/*.c)))
PROGS     := $(foreach p,$(PROGRAMS),$(B)/bin/$(firstword $(subst :, ,$(p))))
$(foreach v,rel asan tsan pic,$(eval $(call variant_lib,$(v))))
define program
$(B)/bin/$(1): $(rel_DIR)/$(2:.c=.o) $(rel_LIB)
	$$(say) LD $$@
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(CFLAGS) $$(ALL_LDFLAGS) -o $$@ $$< $(rel_LIB) $$(PKG_LIBS) $$(LDLIBS)
endef
$(foreach p,$(PROGRAMS),$(eval $(call program,$(firstword $(subst :, ,$(p))),$(lastword $(subst :, ,$(p))))))
-include $(patsubst %.c,$(rel_DIR)/%.d,$(MAIN_SRCS))

.PHONY: all tests benches test test-unit layers run bench clean
# `make` builds what running and installing need (the build packages only);
# the tests and benchmarks are built by the targets that run them.
all: $(PROGS)
tests: all $(rel_TESTS) $(ALLOC_PROBE)
benches: all $(BENCHES)

test: tests $(asan_TESTS) $(tsan_TESTS)
	$(Q)./mk/layers.sh
	$(Q)./tests/run.sh $(B)

# The include directions between the rooms (the table is in mk/layers.sh).
layers:
	$(Q)./mk/layers.sh

test-unit: $(rel_TESTS)
	$(Q)./tests/run.sh $(B) unit

run: $(PROGS)
	$(Q)$(B)/bin/qiki run --scenario examples/scenarios/demo.yaml $(RUN_ARGS)

bench: benches | $(DEPS_BENCH)
	$(Q)./bench/run.sh $(B)

clean:
	rm -rf $(B)
