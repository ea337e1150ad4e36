/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/* proto/fds.S - the FileDescriptorSet of every telemetry schema (made by
 * protoc at build time), embedded so that qiki-telemetry writes it into
 * each MCAP file's schema records.  QK_FDS_PATH comes from the Makefile. */
	.section .rodata
	.balign 8
	.global qk_tele_fds
	.type qk_tele_fds, @object
qk_tele_fds:
	.incbin QK_FDS_PATH
	.global qk_tele_fds_end
	.type qk_tele_fds_end, @object
qk_tele_fds_end:
	.byte 0
	.section .note.GNU-stack,"",@progbits
