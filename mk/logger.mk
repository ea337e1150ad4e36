# SPDX-License-Identifier: MIT OR Apache-2.0
# qiki-log: prints binary log files (rt/log_file.h) as text or JSON.
PROGRAMS += qiki-log:tools/log/main.c

# its page is installed (and uninstalled) with the rest by mk/pkg.mk
MAN1 += tools/log/qiki-log.1
