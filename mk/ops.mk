# SPDX-License-Identifier: MIT OR Apache-2.0
# ops: libFuzzer targets for the operator's inputs (issue 14): qikictl's
# command line, the YAML configuration, the MCAP reader of qiki-telemetry.
# They sit beside harden's (mk/harden.mk: `make fuzz`, `make fuzz-run`,
# corpora in tests/fuzz/corpus/<name>, replayed by make test); these rules
# only say what each of ours links, as harden's pattern rule covers the
# library rooms but not ctl/ and proto/.
#   make fuzz-ops                 build ours
#   make fuzz-ops-run [RUNS=N]    N executions each (default 1000000)
OPS_FUZZ_CC    ?= clang
OPS_FUZZ_FLAGS := -std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
                  -fno-sanitize-recover=all -Wall -Wextra -Wno-missing-field-initializers
OPS_FUZZ       := fuzz_ctlargs fuzz_config fuzz_mcap
OPS_FUZZ_SRCS_fuzz_ctlargs := ctl/ctlargs.c rt/cli.c rt/agent/fsm.c
OPS_FUZZ_SRCS_fuzz_config  := $(wildcard rt/config/*.c) rt/cli.c
OPS_FUZZ_SRCS_fuzz_mcap    := proto/mcap.c
OPS_FUZZ_LIBS_fuzz_config  := -lyaml
OPS_FUZZ_LIBS_fuzz_mcap    := -lzstd
OPS_FUZZ_DIR   := $(B)/fuzz
OPS_FUZZ_BINS  := $(addprefix $(OPS_FUZZ_DIR)/,$(OPS_FUZZ))

$(OPS_FUZZ_DIR)/ops-obj/%.o: %.c | $(DEPS_STAMP)
	$(say) FUZZCC $<
	@mkdir -p $(@D)
	$(Q)$(OPS_FUZZ_CC) $(CPPFLAGS) $(OPS_FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

define ops_fuzz_target
$(OPS_FUZZ_DIR)/$(1): $(OPS_FUZZ_DIR)/ops-obj/tests/fuzz/$(1).o $$(patsubst %.c,$(OPS_FUZZ_DIR)/ops-obj/%.o,$$(OPS_FUZZ_SRCS_$(1)))
	$$(say) LD $$@
	$$(Q)$(OPS_FUZZ_CC) $(OPS_FUZZ_FLAGS) -fsanitize=fuzzer -o $$@ $$^ $$(OPS_FUZZ_LIBS_$(1)) -lm
-include $$(patsubst %.c,$(OPS_FUZZ_DIR)/ops-obj/%.d,$$(OPS_FUZZ_SRCS_$(1)) tests/fuzz/$(1).c)
endef
$(foreach f,$(OPS_FUZZ),$(eval $(call ops_fuzz_target,$(f))))

.PHONY: fuzz-ops fuzz-ops-run
fuzz-ops: $(OPS_FUZZ_BINS)
fuzz-ops-run: $(OPS_FUZZ_BINS)
	$(Q)for f in $(OPS_FUZZ); do \
	  mkdir -p $(OPS_FUZZ_DIR)/corpus/$$f && \
	  $(OPS_FUZZ_DIR)/$$f -runs=$${RUNS:-1000000} -max_len=8192 -print_final_stats=1 \
	    -artifact_prefix=$(OPS_FUZZ_DIR)/$$f- $(OPS_FUZZ_DIR)/corpus/$$f tests/fuzz/corpus/$$f \
	    2>&1 | grep -E '^(stat::|Done|==[0-9]+==|SUMMARY)' | sed "s/^/$$f: /" || exit 1; \
	done

test: $(OPS_FUZZ_BINS)
