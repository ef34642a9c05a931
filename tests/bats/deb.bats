#!/usr/bin/env bats
# make deb: the package builds with the Debian tools, lintian finds no
# errors, the tree stays clean, and the unpacked programs run and mount.

load lib

# Build once for the file; each test looks at the result.
setup_file() {
	cd "$BATS_TEST_DIRNAME/../.."
	command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null &&
		command -v lintian >/dev/null || return 0
	git status --porcelain >"$BATS_FILE_TMPDIR/status.before" 2>/dev/null || true
	make -s deb >"$BATS_FILE_TMPDIR/make.out" 2>&1
	echo $? >"$BATS_FILE_TMPDIR/make.rc"
	git status --porcelain >"$BATS_FILE_TMPDIR/status.after" 2>/dev/null || true
}

need_deb_tools() {
	command -v dpkg-buildpackage >/dev/null || skip "dpkg-buildpackage is missing (dpkg-dev)"
	command -v dh >/dev/null || skip "debhelper is missing"
	command -v lintian >/dev/null || skip "lintian is missing"
}

setup() {
	DEB=$(ls "$ROOT"/build/deb/astrofs_"$(cat "$ROOT/VERSION")"_*.deb 2>/dev/null | head -1)
}

teardown() {
	cleanup_all
}

@test "deb: make deb builds a package, lintian reports no errors, the tree stays clean" {
	need_deb_tools
	cat "$BATS_FILE_TMPDIR/make.out"
	[ "$(cat "$BATS_FILE_TMPDIR/make.rc")" -eq 0 ]
	[ -f "$DEB" ]
	# make deb already fails on lintian errors; check again independently.
	run lintian --fail-on error "$DEB"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"E: "* ]]
	diff "$BATS_FILE_TMPDIR/status.before" "$BATS_FILE_TMPDIR/status.after"
}

@test "deb: the package holds the programs, helper, man pages, conffile, units and tmpfiles" {
	need_deb_tools
	[ -f "$DEB" ] || skip "no package was built"
	files=$(dpkg-deb -c "$DEB" | awk '{print $6}')
	for f in ./usr/bin/astrofs ./sbin/mount.astrofs ./usr/share/man/man8/astrofs.8.gz \
		 ./etc/astrofs/astrofs.conf ./usr/lib/tmpfiles.d/astrofs.conf \
		 ./usr/share/doc/astrofs/examples/mnt-astro.mount \
		 ./usr/share/doc/astrofs/examples/mnt-astro.automount; do
		grep -qx "$f" <<<"$files" || { echo "missing $f"; false; }
	done
	# Whatever programs the tree builds go in, with their man pages and units.
	for p in astrofs-ingest astrofs-obssim; do
		[ -f "$ROOT/src/bin/$p.c" ] || continue
		grep -qx "./usr/bin/$p" <<<"$files" || { echo "missing $p"; false; }
		grep -qx "./usr/share/man/man1/$p.1.gz" <<<"$files" || { echo "missing $p.1"; false; }
	done
	if [ -f "$ROOT/src/bin/astrofs-obssim.c" ]; then
		grep -qx ./lib/systemd/system/astrofs-obssim.service <<<"$files"
	fi
	# The benchmark is not for users.
	! grep -q 'bench' <<<"$files"
	dpkg-deb -e "$DEB" "$BATS_TEST_TMPDIR/ctl"
	grep -qx /etc/astrofs/astrofs.conf "$BATS_TEST_TMPDIR/ctl/conffiles"
	depends=$(dpkg-deb -f "$DEB" Depends)
	echo "$depends"
	[[ "$depends" == *"fuse3"* ]]
	[[ "$depends" == *"libfuse3-3"* ]]
	[[ "$depends" == *"liblmdb0"* ]]
}

@test "deb: the unpacked programs run (--version) and mount offline" {
	need_deb_tools
	[ -f "$DEB" ] || skip "no package was built"
	astro_tmp
	dpkg-deb -x "$DEB" "$T/root"
	bin=$T/root/usr/bin/astrofs
	run "$bin" --version
	[ "$status" -eq 0 ]
	[ "$output" = "astrofs $(cat "$ROOT/VERSION")" ]
	for p in astrofs-ingest astrofs-obssim; do
		[ -x "$T/root/usr/bin/$p" ] || continue
		run "$T/root/usr/bin/$p" --help
		[ "$status" -eq 0 ]
		[[ "$output" == *usage* ]]
	done
	! ldd "$bin" | grep -q 'not found'
	require_fuse
	mkdir -p "$T/mnt"
	# The packaged conffile (every option commented out) as the config.
	run "$bin" deb-test "$T/mnt" -o "config=$T/root/etc/astrofs/astrofs.conf,offline,cache_dir=$T/cache,archive_dir=$T/archive,obs_store=$T/obs"
	echo "$output"
	[ "$status" -eq 0 ]
	mountpoint -q "$T/mnt"
	grep -q "^astrofs $(cat "$ROOT/VERSION")" "$T/mnt/.astrofs/version"
	grep -q '^offline = on' "$T/mnt/.astrofs/config"
	ls "$T/mnt/tle" | grep -qx 2019
	fusermount3 -u "$T/mnt"
	! mountpoint -q "$T/mnt"
}

@test "install: make install and uninstall honour DESTDIR and PREFIX and keep the config" {
	astro_tmp
	cd "$ROOT"
	make -s install DESTDIR="$T/root" PREFIX=/opt/astro >"$T/out" 2>&1 || { cat "$T/out"; false; }
	for f in opt/astro/bin/astrofs sbin/mount.astrofs opt/astro/share/man/man8/astrofs.8 \
		 etc/astrofs/astrofs.conf usr/lib/tmpfiles.d/astrofs.conf \
		 opt/astro/share/doc/astrofs/examples/fstab.example; do
		[ -f "$T/root/$f" ] || { echo "missing $f"; false; }
	done
	[ -x "$T/root/sbin/mount.astrofs" ]
	[ ! -e "$T/root/sbin/mount.fuse.astrofs" ]
	if [ -f src/bin/astrofs-obssim.c ]; then
		grep -qx 'ExecStart=/opt/astro/bin/astrofs-obssim .*' "$T/root/lib/systemd/system/astrofs-obssim.service"
	fi
	# A second install keeps a locally edited config.
	echo 'timeout = 5' >>"$T/root/etc/astrofs/astrofs.conf"
	make -s install DESTDIR="$T/root" PREFIX=/opt/astro >"$T/out" 2>&1 || { cat "$T/out"; false; }
	grep -qx 'timeout = 5' "$T/root/etc/astrofs/astrofs.conf"
	make -s uninstall DESTDIR="$T/root" PREFIX=/opt/astro
	left=$(cd "$T/root" && find . -type f | sort)
	echo "$left"
	[ "$left" = "./etc/astrofs/astrofs.conf" ]
}
