# ops: libFuzzer targets for the operator's inputs (issue 14): qikictl's
# command line, the YAML configuration, the MCAP reader of qiki-telemetry.
#   make fuzz-ops                 build them (clang) into build/fuzz/
#   make fuzz-ops-run [RUNS=N]    N executions each (default 1000000) from
#                                 the seed corpus in tests/fuzz/corpus/<name>
# make test replays the seed corpus only (tests/integration/fuzz_replay.sh).
FUZZ_CC    ?= clang
FUZZ_DIR   := $(B)/fuzz
FUZZ_FLAGS := -std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
              -fno-sanitize-recover=all -Wall -Wextra -Wno-missing-field-initializers
FUZZ_NAMES := ctlargs config mcap
FUZZ_SRCS_ctlargs := ctl/ctlargs.c rt/cli.c rt/agent/fsm.c
FUZZ_SRCS_config  := $(wildcard rt/config/*.c)
FUZZ_SRCS_mcap    := proto/mcap.c
FUZZ_LIBS_config  := -lyaml
FUZZ_LIBS_mcap    := -lzstd
FUZZ_BINS  := $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_NAMES))

$(FUZZ_DIR)/obj/%.o: %.c | $(DEPS_STAMP)
	$(say) FUZZCC $<
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

define fuzz_target
$(FUZZ_DIR)/fuzz_$(1): $(FUZZ_DIR)/obj/tests/fuzz/fuzz_$(1).o $$(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$$(FUZZ_SRCS_$(1)))
	$$(say) LD $$@
	$$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $$@ $$^ $$(FUZZ_LIBS_$(1)) -lm
-include $$(patsubst %.c,$(FUZZ_DIR)/obj/%.d,$$(FUZZ_SRCS_$(1)) tests/fuzz/fuzz_$(1).c)
endef
$(foreach f,$(FUZZ_NAMES),$(eval $(call fuzz_target,$(f))))

RUNS ?= 1000000
.PHONY: fuzz-ops fuzz-ops-run
fuzz-ops: $(FUZZ_BINS)
# seeds beyond tests/fuzz/corpus: the profiles and the config tests' files,
# and MCAP files written by a script (no binary seed is committed)
FUZZ_SEEDS_config := rt/config/profiles tests/config/yaml
FUZZ_SEEDS_mcap   := $(FUZZ_DIR)/seeds/mcap
$(FUZZ_DIR)/seeds/mcap: tests/fuzz/mcap_seeds.py
	$(Q)tests/fuzz/mcap_seeds.py $@ && touch $@
fuzz-ops-run: $(FUZZ_BINS) $(FUZZ_DIR)/seeds/mcap
	$(Q)for f in $(FUZZ_NAMES); do \
	  case $$f in config) extra="$(FUZZ_SEEDS_config)";; mcap) extra="$(FUZZ_SEEDS_mcap)";; \
	    *) extra=;; esac; \
	  mkdir -p $(FUZZ_DIR)/corpus/$$f && \
	  $(FUZZ_DIR)/fuzz_$$f -runs=$(RUNS) -max_len=8192 -print_final_stats=1 \
	    $(FUZZ_DIR)/corpus/$$f tests/fuzz/corpus/$$f $$extra 2>&1 | \
	    grep -E '^(stat::|Done|==[0-9]+==|SUMMARY)' | sed "s/^/fuzz_$$f: /" || exit 1; \
	done

# the replay in make test needs the targets built
test: $(FUZZ_BINS) $(FUZZ_DIR)/seeds/mcap
