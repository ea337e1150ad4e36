# SPDX-License-Identifier: MIT OR Apache-2.0
# The git revision telemetry files name (proto/describe.c): a generated
# header, rewritten only when the revision changes, so that a commit
# rebuilds one object and nothing else.  "unknown" outside a git tree.
QK_REV_H := $(B)/gen/qk-revision.h
QK_GIT_REV = $(shell r=$$(git rev-parse --short=12 HEAD 2>/dev/null) || r=unknown; \
	[ $$r = unknown ] || git diff --quiet HEAD -- 2>/dev/null || r=$$r-dirty; echo $$r)

.PHONY: qk-revision-force
$(QK_REV_H): qk-revision-force
	@mkdir -p $(@D)
	@echo '#define QK_GIT_REVISION "$(QK_GIT_REV)"' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@
$(foreach v,rel asan tsan pic,$($(v)_DIR)/proto/describe.o): $(QK_REV_H)
