# SPDX-License-Identifier: MIT OR Apache-2.0
# Packaging: libqiki for users (static, shared, pkg-config), `make install`
# and `make uninstall` where a Debian package puts things, and the checks
# that prove both.  Everything honours DESTDIR and the directory variables
# below; CC, CFLAGS, CPPFLAGS, LDFLAGS and AR come from the Makefile.
BINDIR      ?= $(PREFIX)/bin
LIBEXECDIR  ?= $(PREFIX)/libexec/qiki
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/qiki
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ifeq ($(PREFIX),/usr)
SYSCONFDIR  ?= /etc
else
SYSCONFDIR  ?= $(PREFIX)/etc
endif
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d

# libqiki's ABI: the soname's number moves with the segment layout and the
# controller interface (a user's .so is checked at load time as well).
QK_SOVERSION := 0
QK_VERSION_STR = $(shell sed -n 's/^\#define QK_VERSION "\(.*\)"/\1/p' rt/proc.h)

# qiki-sim and qiki-agent are qiki's helpers, not commands: LIBEXECDIR.
# The launcher looks beside itself first (a build tree), then there.
HELPERS := qiki-sim qiki-agent qiki-hil
$(rel_DIR)/ctl/qiki.o: CPPFLAGS += -DQK_LIBEXECDIR='"$(LIBEXECDIR)"'
# ... and is rebuilt when LIBEXECDIR changes (`make` then `make install PREFIX=/usr`)
QK_DIRS_STAMP := $(B)/.libexecdir
$(shell mkdir -p $(B) && { echo '$(LIBEXECDIR)' | cmp -s - $(QK_DIRS_STAMP) || \
	echo '$(LIBEXECDIR)' >$(QK_DIRS_STAMP); })
$(rel_DIR)/ctl/qiki.o: $(QK_DIRS_STAMP)

# ---- libqiki.so and qiki.pc -------------------------------------------------
SO_NAME := libqiki.so.$(QK_SOVERSION)
SO      := $(B)/lib/$(SO_NAME)
$(SO): $(B)/pic/libqiki.a
	$(say) LD $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -shared -Wl,-soname,$(SO_NAME) -Wl,--no-undefined $(ALL_LDFLAGS) \
		-o $@ -Wl,--whole-archive $< -Wl,--no-whole-archive $(PKG_LIBS) $(LDLIBS)
	$(Q)ln -sf $(SO_NAME) $(B)/lib/libqiki.so

# the public headers: the segment layout, the ring, command queues,
# mailboxes (status), the segment API and the controller interface
PUB_HDRS := $(wildcard shm/*.h) rt/agent/controller.h

# written at install time: it names the directories install was given
define qiki_pc
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' \
		'' 'Name: qiki' \
		'Description: qiki real-time control loop: segment, rings, command queues, controller interface' \
		'Version: $(QK_VERSION_STR)' 'Requires.private: liburing yaml-0.1' \
		'Cflags: -I$${includedir}/qiki -D_GNU_SOURCE' \
		'Libs: -L$${libdir} -lqiki' 'Libs.private: -lm -ldl -pthread' >$(1)
endef

all: $(SO)

# ---- install / uninstall ----------------------------------------------------
MAN1 += ctl/qiki.1 ctl/qikictl.1 rt/sim/qiki-sim.1 rt/agent/qiki-agent.1 proto/qiki-telemetry.1
MAN5 += rt/config/qiki.yaml.5
COMPLETIONS := qiki:ctl/qiki.bash qikictl:ctl/qikictl.bash qiki-telemetry:proto/qiki-telemetry.bash
PROTOS := $(shell find proto -name '*.proto' 2>/dev/null)
PROFILES := $(wildcard rt/config/profiles/*.yaml)
SCENARIOS := $(wildcard examples/scenarios/*.yaml)
EXAMPLES := $(wildcard examples/controller/* examples/reader/*)

# Every program: PROGRAMS, and those a fragment links by a rule of its own
# (it names them in INSTALL_PROGS; build/bin/NAME).
INSTALL_PROGS += qiki-telemetry
inst_progs    = $(sort $(notdir $(PROGS)) $(INSTALL_PROGS))
inst_bins     = $(filter-out $(HELPERS),$(inst_progs))
inst_helpers  = $(filter $(HELPERS),$(inst_progs))

.PHONY: install uninstall
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(BASHCOMPDIR) \
		$(DESTDIR)$(DATADIR)/qiki/profiles $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(SYSCONFDIR)/security/limits.d
	install -m 755 $(addprefix $(B)/bin/,$(inst_bins)) $(DESTDIR)$(BINDIR)/
	install -m 755 $(addprefix $(B)/bin/,$(inst_helpers)) $(DESTDIR)$(LIBEXECDIR)/
	install -m 644 $(rel_LIB) $(DESTDIR)$(LIBDIR)/libqiki.a
	install -m 755 $(SO) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/libqiki.so
	$(call qiki_pc,$(DESTDIR)$(LIBDIR)/pkgconfig/qiki.pc)
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/qiki.pc
	for h in $(PUB_HDRS); do install -D -m 644 $$h $(DESTDIR)$(INCLUDEDIR)/qiki/$$h || exit 1; done
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	for c in $(COMPLETIONS); do install -m 644 $${c#*:} $(DESTDIR)$(BASHCOMPDIR)/$${c%%:*} || exit 1; done
	for p in $(PROTOS); do install -D -m 644 $$p $(DESTDIR)$(DATADIR)/qiki/$$p || exit 1; done
	install -m 644 $(PROFILES) $(DESTDIR)$(DATADIR)/qiki/profiles/
	$(if $(SCENARIOS),install -d $(DESTDIR)$(DATADIR)/qiki/scenarios && \
		install -m 644 $(SCENARIOS) $(DESTDIR)$(DATADIR)/qiki/scenarios/)
	for f in $(EXAMPLES); do install -D -m 644 $$f $(DESTDIR)$(DOCDIR)/$$f || exit 1; done
	sed 's|@BINDIR@|$(BINDIR)|g' systemd/qiki@.service >$(DESTDIR)$(UNITDIR)/qiki@.service
	chmod 644 $(DESTDIR)$(UNITDIR)/qiki@.service
	install -m 644 systemd/qiki.sysusers $(DESTDIR)$(SYSUSERSDIR)/qiki.conf
	install -m 644 systemd/qiki.limits $(DESTDIR)$(SYSCONFDIR)/security/limits.d/qiki.conf

# only what install put down: a LIBEXECDIR or DOCDIR shared with others keeps theirs
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(inst_bins))
	rm -f $(addprefix $(DESTDIR)$(LIBEXECDIR)/,$(inst_helpers))
	-rmdir $(DESTDIR)$(LIBEXECDIR) 2>/dev/null
	rm -f $(DESTDIR)$(LIBDIR)/libqiki.a $(DESTDIR)$(LIBDIR)/$(SO_NAME) \
		$(DESTDIR)$(LIBDIR)/libqiki.so $(DESTDIR)$(LIBDIR)/pkgconfig/qiki.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/qiki $(DESTDIR)$(DATADIR)/qiki
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(EXAMPLES))
	-rmdir $(addprefix $(DESTDIR)$(DOCDIR)/,examples/controller examples/reader examples) \
		$(DESTDIR)$(DOCDIR) 2>/dev/null
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(MAN5)))
	rm -f $(foreach c,$(COMPLETIONS),$(DESTDIR)$(BASHCOMPDIR)/$(firstword $(subst :, ,$(c))))
	rm -f $(DESTDIR)$(UNITDIR)/qiki@.service $(DESTDIR)$(SYSUSERSDIR)/qiki.conf \
		$(DESTDIR)$(SYSCONFDIR)/security/limits.d/qiki.conf

# ---- test fixtures: controllers as shared objects, beside test_controller ----
CTL_FIXTURES := $(patsubst tests/agent/%.c,%,$(wildcard tests/agent/fixture_ctl_*.c))
define ctl_fixture
$$($(1)_DIR)/tests/agent/$(2).so: tests/agent/$(2).c rt/agent/controller.h shm/layout.h
	$$(say) CC $$@
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(CPPFLAGS) -std=c11 $$(WARN) $$(CFLAGS) -fPIC -shared $$(ALL_LDFLAGS) -o $$@ $$<
$$($(1)_DIR)/tests/agent/test_controller: | $$($(1)_DIR)/tests/agent/$(2).so
endef
$(foreach v,rel asan,$(foreach f,$(CTL_FIXTURES),$(eval $(call ctl_fixture,$(v),$(f)))))

# `make NO_DEPS=1 run` with every test, bench and tracer package hidden (a
# mount namespace; a full build of its own, so not part of `make test`)
.PHONY: test-nodeps
test-nodeps:
	$(Q)./tests/pkg/nodeps_run.sh
