# qiki-log: prints binary log files (rt/log_file.h) as text or JSON.
PROGRAMS += qiki-log:tools/log/main.c
