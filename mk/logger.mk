# qiki-log: prints binary log files (rt/log_file.h) as text or JSON.
PROGRAMS += qiki-log:tools/log/main.c

install: install-qiki-log-man
.PHONY: install-qiki-log-man
install-qiki-log-man:
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 tools/log/qiki-log.1 $(DESTDIR)$(PREFIX)/share/man/man1/
