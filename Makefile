# astrofs — build, test, demo, bench, install.
#
# Layout: every src/FOLDER/*.c (core, services and one folder per tree) is a
# module linked into build/libastro.a; every src/bin/NAME.c is an installed
# program build/NAME linked against it, every bench/NAME.c a benchmark or
# test-data program built by `make bench`; every tests/unit/test_*.c is a
# cmocka suite; every tests/fuzz/fuzz_*.c a libFuzzer target.  Adding a
# module never needs an edit here.
#
# Test hooks (fault injection, a shifted clock, internal functions a test
# calls directly) exist only in test builds, as curl's UNITTEST: the unit
# suites link build/libastro-unit.a, the same sources compiled with
# -DASTRO_UNITTEST into build/obj-unit, and the fuzz and ASan builds define
# it too; the programs link the product library, which has no hook
# (tests/bats/hooks.bats checks the daemon).

PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

CC      ?= gcc
PKGS    := fuse3 libcurl lmdb openssl cfitsio jansson expat yaml-0.1 libmicrohttpd yajl erfa libjpeg cairo zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread

WARN    := -Wall -Wextra -Werror -Wmissing-declarations -Wwrite-strings \
           -Wshadow -Wformat=2 -Wno-unused-parameter
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE -DASTRO_VERSION='"$(VERSION)"' \
             -Iinclude -Isrc $(PKG_CFLAGS) $(WARN) $(CFLAGS) $(EXTRA_CFLAGS)

B       ?= build
LIBSRC  := $(sort $(filter-out src/bin/%,$(wildcard src/*/*.c)))
BINSRC  := $(sort $(wildcard src/bin/*.c))
UNITSRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZSRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
DEPFLAGS = -MMD -MP

LIBOBJ  := $(LIBSRC:src/%.c=$(B)/obj/%.o)
UNITOBJ := $(LIBSRC:src/%.c=$(B)/obj-unit/%.o)
BINS    := $(BINSRC:src/bin/%.c=$(B)/%)
BENCHSRC := $(sort $(wildcard bench/astrofs-*.c))
BENCHBINS := $(BENCHSRC:bench/%.c=$(B)/%)
UNITS   := $(UNITSRC:tests/unit/%.c=$(B)/tests/%)

.PHONY: all bootstrap check unit asan-unit fuzz fuzz-check bats demo demo-stop \
        bench bench-compare install uninstall clean lint deb
all: $(BINS)

# Each object, program and test records the headers it really includes
# (-MMD), so a header edit rebuilds only what uses it; -MP keeps a removed
# or moved header from breaking the build.
$(B)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(B)/libastro.a: $(LIBOBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/obj-unit/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DASTRO_UNITTEST $(DEPFLAGS) -c -o $@ $<

$(B)/libastro-unit.a: $(UNITOBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/%: src/bin/%.c $(B)/libastro.a
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -o $@ $< $(B)/libastro.a $(PKG_LIBS)

$(B)/%: bench/%.c $(B)/libastro.a
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -o $@ $< $(B)/libastro.a $(PKG_LIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libastro-unit.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DASTRO_UNITTEST $(DEPFLAGS) -Itests/unit -o $@ $< $(B)/libastro-unit.a \
		$(PKG_LIBS) -lcmocka

bootstrap:
	@scripts/bootstrap.sh

# The whole suite: build, unit tests (plain and ASan+UBSan), a short fuzz
# run, then the mount-level bats tests.  Ends with "N passed, N failed".
check: bootstrap
	@scripts/check.sh

unit: $(UNITS) $(BINS)
	@scripts/run-unit.sh $(B)

asan-unit:
	$(MAKE) B=build-asan CC=gcc CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
		EXTRA_CFLAGS= $(UNITSRC:tests/unit/%.c=build-asan/tests/%)
	@scripts/run-unit.sh build-asan

FUZZ_CFLAGS = -std=c17 -D_GNU_SOURCE -DASTRO_VERSION='"$(VERSION)"' -Iinclude -Isrc $(PKG_CFLAGS) \
              -g -O1 -fsanitize=address,undefined -DASTRO_UNITTEST
# The library is compiled once with coverage instrumentation and linked
# into every target; only the target itself pulls in libFuzzer's main.
FUZZOBJ := $(LIBSRC:src/%.c=build-fuzz/obj/%.o)
fuzz: $(FUZZSRC:tests/fuzz/%.c=build-fuzz/%)
build-fuzz/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
build-fuzz/libastro.a: $(FUZZOBJ)
	@rm -f $@
	ar rcs $@ $^
build-fuzz/%: tests/fuzz/%.c build-fuzz/libastro.a
	clang $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/libastro.a $(PKG_LIBS)

FUZZ_SECONDS ?= 20
fuzz-check: fuzz
	@scripts/run-fuzz.sh $(FUZZ_SECONDS)

bats: all
	@scripts/run-bats.sh

demo: bootstrap all
	@scripts/demo.sh start

demo-stop:
	@scripts/demo.sh stop

bench: bootstrap all $(BENCHBINS)
	@scripts/bench.sh

# The hot paths beside another revision's: make bench-compare REV=c96c320^
bench-compare: bootstrap
	@bench/compare.sh $(REV) $(ROUNDS)

lint:
	@scripts/banned.sh
	@scripts/layers.sh
	@scripts/names.sh

# Installation.  PREFIX for programs, man pages and examples; the mount
# helper goes to /sbin where mount(8) looks for it (no /sbin/mount.fuse.astrofs:
# mount -t fuse.astrofs goes through Debian's mount.fuse3).  The config file
# is installed only when absent, so an upgrade never overwrites it; the mount
# and automount units are examples (their names depend on the mount point).
SBINDIR     ?= /sbin
SYSCONFDIR  ?= /etc
UNITDIR     ?= /lib/systemd/system
TMPFILESDIR ?= /usr/lib/tmpfiles.d
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/astrofs
INSTALL_BINS := $(filter $(B)/astrofs $(B)/astrofs-ingest $(B)/astrofs-obssim,$(BINS))
MAN1        := $(filter $(INSTALL_BINS:$(B)/%=doc/%.1),$(wildcard doc/*.1))
EXAMPLES    := mount-helpers/astrofs.conf mount-helpers/fstab.example \
               mount-helpers/mnt-astro.mount mount-helpers/mnt-astro.automount

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSCONFDIR)/astrofs $(DESTDIR)$(TMPFILESDIR)
	install -m 0755 $(INSTALL_BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 mount-helpers/mount.astrofs $(DESTDIR)$(SBINDIR)/mount.astrofs
	install -m 0644 doc/astrofs.8 doc/mount.astrofs.8 $(DESTDIR)$(MANDIR)/man8/
	$(if $(MAN1),install -d $(DESTDIR)$(MANDIR)/man1 && install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)
	install -m 0644 $(EXAMPLES) doc/README-install.md $(DESTDIR)$(DOCDIR)/examples/
	[ -e $(DESTDIR)$(SYSCONFDIR)/astrofs/astrofs.conf ] || \
		install -m 0644 mount-helpers/astrofs.conf $(DESTDIR)$(SYSCONFDIR)/astrofs/astrofs.conf
	$(if $(filter $(B)/astrofs-obssim,$(INSTALL_BINS)),install -d $(DESTDIR)$(UNITDIR) && sed 's#/usr/bin/astrofs-obssim#$(PREFIX)/bin/astrofs-obssim#' \
		mount-helpers/astrofs-obssim.service >$(DESTDIR)$(UNITDIR)/astrofs-obssim.service && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/astrofs-obssim.service)
	install -m 0644 mount-helpers/astrofs.tmpfiles $(DESTDIR)$(TMPFILESDIR)/astrofs.conf

# Leaves /etc/astrofs/astrofs.conf (it may hold local edits) and the data
# under /var.
uninstall:
	rm -f $(INSTALL_BINS:$(B)/%=$(DESTDIR)$(PREFIX)/bin/%) $(DESTDIR)$(SBINDIR)/mount.astrofs \
	      $(DESTDIR)$(MANDIR)/man8/astrofs.8 $(DESTDIR)$(MANDIR)/man8/mount.astrofs.8 \
	      $(MAN1:doc/%=$(DESTDIR)$(MANDIR)/man1/%) \
	      $(DESTDIR)$(UNITDIR)/astrofs-obssim.service $(DESTDIR)$(TMPFILESDIR)/astrofs.conf
	rm -rf $(DESTDIR)$(DOCDIR)

# A Debian binary package in build/deb/, built from a copy of the sources so
# the tree stays clean.  Needs debhelper (scripts/deps.txt).
deb:
	@packaging/make-deb.sh "$(VERSION)"

clean:
	rm -rf build build-asan build-fuzz

# The dependency files -MMD wrote (absent on a first build).
-include $(wildcard $(B)/obj/*/*.d $(B)/obj-unit/*/*.d $(B)/*.d $(B)/tests/*.d build-fuzz/obj/*/*.d build-fuzz/*.d)
