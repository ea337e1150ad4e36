# qiki-rtlat, the eBPF tracer (tools/rtlat/).  vmlinux.h, the BPF object
# and its skeleton are generated into build/rtlat (never committed).  A
# machine whose kernel has no BTF cannot build it (nor run it): it is left
# out of `all` there, and its test says SKIP.
RTLAT_GEN  := $(B)/rtlat
RTLAT_BTF  ?= /sys/kernel/btf/vmlinux
RTLAT_SRCS := tools/rtlat/rtlat.c tools/rtlat/report.c
RTLAT_OBJS := $(patsubst %.c,$(rel_DIR)/%.o,$(RTLAT_SRCS))
BPF_CLANG  ?= clang
BPF_ARCH   := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/')

$(RTLAT_GEN)/vmlinux.h: | $(DEPS_STAMP)
	$(say) BTF $@
	@mkdir -p $(@D)
	$(Q)bpftool btf dump file $(RTLAT_BTF) format c > $@

$(RTLAT_GEN)/rtlat.bpf.o: tools/rtlat/rtlat.bpf.c tools/rtlat/rtlat.h $(RTLAT_GEN)/vmlinux.h
	$(say) BPF $@
	$(Q)$(BPF_CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Wextra \
		-Wno-unused-parameter -Wno-unused-function -Werror \
		-I$(RTLAT_GEN) -I. -c -o $@ $<

$(RTLAT_GEN)/rtlat.skel.h: $(RTLAT_GEN)/rtlat.bpf.o
	$(say) SKEL $@
	$(Q)bpftool gen skeleton $< name rtlat_bpf > $@

$(RTLAT_OBJS): CPPFLAGS += -I$(RTLAT_GEN)
$(RTLAT_OBJS): | $(RTLAT_GEN)/rtlat.skel.h
$(rel_DIR)/tools/rtlat/rtlat.o: $(RTLAT_GEN)/rtlat.skel.h
-include $(RTLAT_OBJS:.o=.d)

$(B)/bin/qiki-rtlat: $(RTLAT_OBJS) $(rel_LIB)
	$(say) LD $@
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $(RTLAT_OBJS) $(rel_LIB) $(PKG_LIBS) -lbpf -lelf -lz $(LDLIBS)

ifneq ($(wildcard $(RTLAT_BTF)),)
all: $(B)/bin/qiki-rtlat
endif

# bench/run.sh runs every program in build/bench/bin: the tracer's bench
# goes there only where the tracer is built.
$(B)/bench/bin/rtlat: bench/rtlat.sh
	@mkdir -p $(@D)
	$(Q)install -m 755 $< $@

ifneq ($(wildcard $(RTLAT_BTF)),)
all: $(B)/bench/bin/rtlat
endif

.PHONY: install-rtlat
install-rtlat: $(B)/bin/qiki-rtlat
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(B)/bin/qiki-rtlat $(DESTDIR)$(PREFIX)/bin/
	install -m 644 tools/rtlat/qiki-rtlat.1 $(DESTDIR)$(PREFIX)/share/man/man1/
ifneq ($(wildcard $(RTLAT_BTF)),)
install: install-rtlat
endif
