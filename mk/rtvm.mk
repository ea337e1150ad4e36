# SPDX-License-Identifier: MIT OR Apache-2.0
# PREEMPT_RT, proven (tools/rt-vm/, docs/preempt-rt.md): Debian's PREEMPT_RT
# kernel booted in QEMU over this machine's /, qiki run inside.  The kernel
# package and the initramfs are fetched and built once under build/rt-vm/;
# every run writes build/rt-vm/<timestamp>/report.md.
#   make test-rt      the whole check (unit tests in the guest, cyclictest, rtla)
#   make test-rt-ci   the few-minute subset CI runs (boot, PREEMPT_RT, lockstep
#                     hash equal to the host's, a 1 kHz run, the hpet warning)
#   make bench-rt     bench/run.sh BENCH_QUICK=1 in the guest
.PHONY: deps-rt test-rt test-rt-ci bench-rt
deps-rt:
	$(Q)./mk/deps.sh rt-vm

# the guest runs the unit tests and the benches as built here: build them
test-rt: tests deps-rt
	$(Q)./tools/rt-vm/test-rt.sh $(B) full

# (not $(PROGS): the fragments are read before the Makefile sets it)
test-rt-ci: all deps-rt
	$(Q)./tools/rt-vm/test-rt.sh $(B) ci

bench-rt: benches deps-rt
	$(Q)./tools/rt-vm/test-rt.sh $(B) bench
