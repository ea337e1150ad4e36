# The HIL rig (issue 18): the bridge qiki-hil (rt/hil/), the device emulator
# and the link impairment relay (tools/hil/), the wire codec's unit test, its
# freestanding and Cortex-M4 builds, and its libFuzzer target.
HIL_SRCS     := $(filter-out rt/hil/main.c,$(wildcard rt/hil/*.c))
HIL_REL_OBJS := $(patsubst %.c,$(rel_DIR)/%.o,$(HIL_SRCS))
HIL_ASAN_OBJS := $(patsubst %.c,$(asan_DIR)/%.o,$(HIL_SRCS))
HIL_PROGS    := $(if $(wildcard rt/hil/main.c),$(B)/bin/qiki-hil) \
                $(patsubst tools/hil/%.c,$(B)/bin/qiki-hil-%,$(wildcard tools/hil/*.c))
HIL_TESTS    := $(patsubst tests/hil/%.c,%,$(wildcard tests/hil/test_*.c))

$(B)/bin/qiki-hil: $(rel_DIR)/rt/hil/main.o $(HIL_REL_OBJS) $(rel_LIB)
	$(say) LD $@
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS) $(LDLIBS)
$(B)/bin/qiki-hil-%: $(rel_DIR)/tools/hil/%.o $(HIL_REL_OBJS) $(rel_LIB)
	$(say) LD $@
	@mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(rel_DIR)/tests/test_%: $(rel_DIR)/tests/hil/test_%.o $(HIL_REL_OBJS) $(rel_LIB)
	$(say) LD $@
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS) -lcmocka $(LDLIBS)
$(asan_DIR)/tests/test_%: $(asan_DIR)/tests/hil/test_%.o $(HIL_ASAN_OBJS) $(asan_LIB)
	$(say) LD $@
	$(Q)$(CC) -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -o $@ $^ $(PKG_LIBS) -lcmocka $(LDLIBS)

-include $(HIL_REL_OBJS:.o=.d) $(HIL_ASAN_OBJS:.o=.d) $(rel_DIR)/rt/hil/main.d \
	 $(wildcard $(rel_DIR)/tools/hil/*.d) $(wildcard $(rel_DIR)/tests/hil/*.d $(asan_DIR)/tests/hil/*.d)

all: $(HIL_PROGS) $(addprefix $(rel_DIR)/tests/,$(HIL_TESTS))
test: $(addprefix $(asan_DIR)/tests/,$(HIL_TESTS)) hil-check

# The decoder under libFuzzer (clang): `make fuzz-hil` runs FUZZ_RUNS inputs
# (1 M by default) and keeps what it finds in build/fuzz/corpus; `make test`
# replays that corpus and the seeds (one valid frame of each type).
FUZZ_RUNS  ?= 1000000
FUZZ_DIR   := $(B)/fuzz
FUZZ_BIN   := $(FUZZ_DIR)/fuzz_hil_wire
FUZZ_SEEDS := $(FUZZ_DIR)/seeds
$(FUZZ_BIN): tests/hil/fuzz_hil_wire.c rt/hil/wire.c rt/hil/wire.h | $(DEPS_STAMP)
	$(say) CLANG $@
	@mkdir -p $(@D)
	$(Q)clang -std=c11 -Wall -Wextra -Werror -g -O1 -I. \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ tests/hil/fuzz_hil_wire.c rt/hil/wire.c
$(FUZZ_SEEDS)/.stamp: tests/hil/fuzz_hil_wire.c rt/hil/wire.c rt/hil/wire.h | $(DEPS_STAMP)
	$(say) SEEDS $(FUZZ_SEEDS)
	@mkdir -p $(FUZZ_SEEDS) $(FUZZ_DIR)/corpus
	$(Q)$(CC) -std=c11 -O1 -I. -DQK_HIL_SEED_MAIN -o $(FUZZ_DIR)/seedgen \
		tests/hil/fuzz_hil_wire.c rt/hil/wire.c
	$(Q)$(FUZZ_DIR)/seedgen $(FUZZ_SEEDS)
	@touch $@

.PHONY: fuzz-hil hil-check
fuzz-hil: $(FUZZ_BIN) $(FUZZ_SEEDS)/.stamp
	$(FUZZ_BIN) -runs=$(FUZZ_RUNS) -print_final_stats=1 $(FUZZ_DIR)/corpus $(FUZZ_SEEDS)

hil-check: $(FUZZ_BIN) $(FUZZ_SEEDS)/.stamp
	$(Q)./tests/hil/freestanding.sh $(B)
	$(Q)$(FUZZ_BIN) -runs=0 $(FUZZ_DIR)/corpus $(FUZZ_SEEDS) 2>$(FUZZ_DIR)/replay.log || \
		{ tail -n 30 $(FUZZ_DIR)/replay.log; exit 1; }
	$(Q)echo "hil codec: fuzz corpus replayed: $$(grep -o 'INITED.*' $(FUZZ_DIR)/replay.log || grep -c . $(FUZZ_DIR)/replay.log)"
