# SPDX-License-Identifier: MIT OR Apache-2.0
# mk/harden.mk - libFuzzer targets for the untrusted inputs (issue 14):
# segment attach and validation, and the agent's and the sim's command
# decoding.  Built with clang, ASan and UBSan into $(B)/fuzz/.
#   make fuzz                  builds them
#   make fuzz-run RUNS=1000000 runs each from its corpus (tests/fuzz/corpus/<name>)
# `make test` replays the corpora (tests/integration/fuzz_replay.sh).
FUZZ_CC     ?= clang
FUZZ_DIR    := $(B)/fuzz
FUZZ_FLAGS  := -std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=all -Wall -Wextra -Wno-missing-field-initializers -pthread
FUZZ_NAMES  := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS   := $(addprefix $(FUZZ_DIR)/,$(FUZZ_NAMES))
# what the targets reach: the library rooms but ctl/ (no main, no launcher)
FUZZ_SRCS   := $(filter-out %/main.c,$(wildcard shm/*.c rt/*.c rt/config/*.c rt/agent/*.c rt/sim/*.c))
FUZZ_OBJS   := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_SRCS))
RUNS        ?= 1000000

$(FUZZ_DIR)/obj/%.o: %.c | $(DEPS_STAMP) $(DEPS_TEST)
	$(say) FUZZCC $<
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP \
		$(PKG_CFLAGS) -c -o $@ $<

$(FUZZ_DIR)/%: $(FUZZ_DIR)/obj/tests/fuzz/%.o $(FUZZ_OBJS)
	$(say) LD $@
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) $(LDLIBS)

-include $(FUZZ_OBJS:.o=.d) $(patsubst %,$(FUZZ_DIR)/obj/tests/fuzz/%.d,$(FUZZ_NAMES))

.PHONY: fuzz fuzz-run
fuzz: $(FUZZ_BINS)

# Each target RUNS executions from its committed corpus; new finds go to a
# scratch corpus under $(FUZZ_DIR), never into the tree.
fuzz-run: $(FUZZ_BINS)
	$(Q)for f in $(FUZZ_NAMES); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$f; \
	  echo "== $$f: $(RUNS) runs"; \
	  $(FUZZ_DIR)/$$f -runs=$(RUNS) -max_len=4096 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/$$f- $(FUZZ_DIR)/corpus/$$f tests/fuzz/corpus/$$f \
	    2>&1 | tail -n 12 || exit 1; \
	done

test: $(FUZZ_BINS)

# hostile.sh's probe: fstat() of a segment keeps its largest size, so the
# exporter meets a truncation as SIGBUS (tests/preload/stalesize.c)
STALESIZE := $(B)/rel/tests/libqkstalesize.so
$(STALESIZE): tests/preload/stalesize.c | $(DEPS_TEST)
	$(say) CC $@
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -std=c11 $(WARN) -Wno-missing-prototypes $(CFLAGS) -fPIC -shared \
		$(ALL_LDFLAGS) -o $@ $< -ldl
tests: $(STALESIZE)
