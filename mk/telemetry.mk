# SPDX-License-Identifier: MIT OR Apache-2.0
# The telemetry edge: protobuf contracts in proto/, compiled by protoc into
# build/gen (never committed), and qiki-telemetry, the only program that
# links protobuf-c.  The loop's libqiki.a never does.
TELE_PROTOS := proto/qiki/v1/telemetry.proto proto/foxglove/Log.proto proto/foxglove/PoseInFrame.proto
TELE_GEN    := $(B)/gen
TELE_WKT    := google/protobuf/timestamp.proto
TELE_GEN_C  := $(patsubst proto/%.proto,$(TELE_GEN)/%.pb-c.c,$(TELE_PROTOS)) \
               $(TELE_GEN)/google/protobuf/timestamp.pb-c.c
TELE_FDS    := $(TELE_GEN)/qiki-telemetry.fds
TELE_SRCS   := proto/mcap.c proto/export.c proto/net.c proto/stream.c proto/ws.c proto/describe.c
TELE_LIBS   := -lprotobuf-c -lzstd

$(TELE_GEN)/.stamp: $(TELE_PROTOS) mk/telemetry.mk | $(DEPS_STAMP)
	$(say) PROTOC $(TELE_GEN)
	@mkdir -p $(TELE_GEN)
	$(Q)protoc -Iproto -I/usr/include --c_out=$(TELE_GEN) --include_imports \
		--descriptor_set_out=$(TELE_FDS) $(TELE_PROTOS) $(TELE_WKT)
	@touch $@
$(TELE_GEN_C) $(TELE_GEN_C:.c=.h) $(TELE_FDS): $(TELE_GEN)/.stamp ;

# generated code: our flags but its own warnings are not ours to fix
define tele_variant
$(1)_TELE_OBJS := $$(patsubst $(TELE_GEN)/%.c,$$($(1)_DIR)/gen/%.o,$(TELE_GEN_C)) \
                  $$(patsubst %.c,$$($(1)_DIR)/%.o,$(TELE_SRCS)) $$($(1)_DIR)/proto/fds.o
$$($(1)_DIR)/gen/%.o: $(TELE_GEN)/%.c | $(TELE_GEN)/.stamp
	$$(say) CC $$<
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(CPPFLAGS) -I$(TELE_GEN) -std=c11 $$(CFLAGS) -w $(2) -c -o $$@ $$<
$$($(1)_DIR)/proto/%.o: CPPFLAGS += -I$(TELE_GEN)
$$(patsubst %.c,$$($(1)_DIR)/%.o,$(TELE_SRCS)) $$($(1)_DIR)/proto/main_qiki-telemetry.o: | $(TELE_GEN)/.stamp
$$($(1)_DIR)/proto/fds.o: proto/fds.S $(TELE_GEN)/.stamp
	$$(say) AS $$@
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(CPPFLAGS) $$(CFLAGS) $(2) -DQK_FDS_PATH='"$(abspath $(TELE_FDS))"' -c -o $$@ $$<
$$($(1)_DIR)/libqiki-tele.a: $$($(1)_TELE_OBJS)
	$$(say) AR $$@
	$$(Q)rm -f $$@ && $$(AR) rcs $$@ $$^
-include $$(patsubst %.c,$$($(1)_DIR)/%.d,$(TELE_SRCS) proto/main_qiki-telemetry.c)
endef
$(eval $(call tele_variant,rel,))
$(eval $(call tele_variant,asan,-O1 -fsanitize=address,undefined -fno-omit-frame-pointer))

$(B)/bin/qiki-telemetry: $(rel_DIR)/proto/main_qiki-telemetry.o $(rel_DIR)/libqiki-tele.a $(rel_LIB)
	$(say) LD $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(rel_DIR)/libqiki-tele.a $(rel_LIB) $(TELE_LIBS) $(PKG_LIBS) $(LDLIBS)

# unit tests of the edge: tests/proto/test_*.c
TELE_TESTS := $(patsubst tests/proto/%.c,%,$(wildcard tests/proto/test_*.c))
define tele_test
$$($(1)_DIR)/tests/proto/$(2): $$($(1)_DIR)/tests/proto/$(2).o $$($(1)_DIR)/libqiki-tele.a $$($(1)_LIB)
	$$(say) LD $$@
	$$(Q)$$(CC) $$(CFLAGS) $(3) $$(ALL_LDFLAGS) -o $$@ $$< $$($(1)_DIR)/libqiki-tele.a $$($(1)_LIB) $(TELE_LIBS) $$(PKG_LIBS) -lcmocka $$(LDLIBS)
$$($(1)_DIR)/tests/proto/$(2).o: CPPFLAGS += -I$(TELE_GEN)
$$($(1)_DIR)/tests/proto/$(2).o: | $(TELE_GEN)/.stamp $(DEPS_TEST)
-include $$($(1)_DIR)/tests/proto/$(2).d
endef
$(foreach t,$(TELE_TESTS),$(eval $(call tele_test,rel,$(t),)))
$(foreach t,$(TELE_TESTS),$(eval $(call tele_test,asan,$(t),-O1 -fsanitize=address,undefined -fno-omit-frame-pointer)))

all: $(B)/bin/qiki-telemetry
tests: $(addprefix $(rel_DIR)/tests/proto/,$(TELE_TESTS))
test: $(addprefix $(asan_DIR)/tests/proto/,$(TELE_TESTS))
