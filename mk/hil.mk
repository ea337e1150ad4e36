# SPDX-License-Identifier: MIT OR Apache-2.0
# The HIL rig (issue 18): the bridge qiki-hil (rt/hil/, whose other sources
# are in libqiki.a with every room's), the device emulator and the link
# impairment relay (tools/hil/); the codec's freestanding and Cortex-M4 builds
# and its libFuzzer target.  The unit tests in tests/hil/ build as every
# room's do.
PROGRAMS += qiki-hil:rt/hil/main.c qiki-hil-device:tools/hil/device.c \
            qiki-hil-relay:tools/hil/relay.c

test: hil-check

# The decoder under libFuzzer (clang): `make fuzz-hil` runs FUZZ_RUNS inputs
# (1 M by default) and keeps what it finds in build/fuzz/corpus; `make test`
# replays tests/hil/corpus (the merged finds of a 1 M-execution run, about
# 9 kB), that build corpus and the seeds (one valid frame of each type).
FUZZ_RUNS  ?= 1000000
FUZZ_DIR   := $(B)/fuzz
FUZZ_BIN   := $(FUZZ_DIR)/fuzz_hil_wire
FUZZ_SEEDS := $(FUZZ_DIR)/seeds
$(FUZZ_BIN): tests/hil/fuzz_hil_wire.c rt/hil/wire.c rt/hil/wire.h | $(DEPS_STAMP) $(DEPS_TEST)
	$(say) CLANG $@
	@mkdir -p $(@D)
	$(Q)clang -std=c11 -Wall -Wextra $(filter -Werror,$(WARN)) -g -O1 -I. \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ tests/hil/fuzz_hil_wire.c rt/hil/wire.c
$(FUZZ_SEEDS)/.stamp: tests/hil/fuzz_hil_wire.c rt/hil/wire.c rt/hil/wire.h | $(DEPS_STAMP) $(DEPS_TEST)
	$(say) SEEDS $(FUZZ_SEEDS)
	@mkdir -p $(FUZZ_SEEDS) $(FUZZ_DIR)/corpus
	$(Q)$(CC) $(CPPFLAGS) -std=c11 $(CFLAGS) -O1 -DQK_HIL_SEED_MAIN $(ALL_LDFLAGS) -o $(FUZZ_DIR)/seedgen \
		tests/hil/fuzz_hil_wire.c rt/hil/wire.c
	$(Q)$(FUZZ_DIR)/seedgen $(FUZZ_SEEDS)
	@touch $@

.PHONY: fuzz-hil hil-check
fuzz-hil: $(FUZZ_BIN) $(FUZZ_SEEDS)/.stamp
	$(FUZZ_BIN) -runs=$(FUZZ_RUNS) -print_final_stats=1 $(FUZZ_DIR)/corpus $(FUZZ_SEEDS)

hil-check: $(FUZZ_BIN) $(FUZZ_SEEDS)/.stamp
	$(Q)./tests/hil/freestanding.sh $(B)
	$(Q)$(FUZZ_BIN) -runs=0 $(FUZZ_DIR)/corpus tests/hil/corpus $(FUZZ_SEEDS) 2>$(FUZZ_DIR)/replay.log || \
		{ tail -n 30 $(FUZZ_DIR)/replay.log; exit 1; }
	$(Q)echo "hil codec: fuzz corpus replayed: $$(grep -o 'INITED.*' $(FUZZ_DIR)/replay.log || grep -c . $(FUZZ_DIR)/replay.log)"
