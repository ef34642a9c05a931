#!/usr/bin/env bats
# The staging_dir watcher through a real mount: a producer drops files the
# careful way (write a dotfile, rename into place); the daemon ingests good
# ones into the archive (visible in /telemetry, moved to done/) and sets bad
# ones aside whole (rejected/ plus a .reason naming the line, nothing stored).
# The watcher takes a file once it has been unmodified for 10 s and looks
# every 5 s, so the waits below are bounded at 40 s.

load lib

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	[ -x "$ROOT/build/astrofs-ingest" ] || skip "build/astrofs-ingest is not built"
	astro_tmp
	start_standin
	mkdir -p "$T/staging"
	mount_astrofs "staging_dir=$T/staging"
}

teardown() {
	cleanup_all
}

# wait_for CMD...: retry CMD every 0.5 s for at most 40 s.
wait_for() {
	for _ in $(seq 1 80); do
		"$@" && return 0
		sleep 0.5
	done
	echo "gave up waiting for: $*" >&2
	cat "$T/astrofs.log" >&2
	return 1
}

# index_samples MSID: its sample count in INDEX.csv (empty when absent).
index_samples() {
	awk -F, -v m="$1" '$1 == m {print $4}' "$T/mnt/telemetry/INDEX.csv"
}

has_samples() { [ "$(index_samples "$1")" = "$2" ]; }

# drop NAME: move $T/NAME into staging as a producer would: copy to a
# dotfile in the staging directory, then rename it into place.
drop() {
	cp "$T/$1" "$T/staging/.$1.uploading"
	mv "$T/staging/.$1.uploading" "$T/staging/$1"
}

@test "staging: a dropped CSV is ingested, shows in INDEX.csv and moves to done/" {
	# 1000 samples one minute apart, values i/4 (exact in binary, so their
	# shortest text is what we wrote)
	awk 'BEGIN { print "msid,time,value"
		for (i = 0; i < 1000; i++)
			printf "STAGED,2024-03-01T%02d:%02d:00Z,%s\n", int(i / 60), i % 60, i / 4 }' >"$T/good.csv"
	# An upload still in progress (dot name) is never taken.
	printf 'msid,time,value\nNOTYET,2024:001,1\n' >"$T/staging/.inprogress.csv"
	touch -d '-1 hour' "$T/staging/.inprogress.csv"
	drop good.csv
	wait_for has_samples STAGED 1000
	wait_for test -f "$T/staging/done/good.csv"
	[ ! -e "$T/staging/good.csv" ]
	cmp "$T/good.csv" "$T/staging/done/good.csv"
	# The samples themselves, read back through the mount.
	tail -n +2 "$T/good.csv" | cut -d, -f3 >"$T/want"
	tail -n +2 "$T/mnt/telemetry/STAGED.csv" | cut -d, -f3 >"$T/got"
	diff "$T/want" "$T/got"
	[ "$(sed -n 2p "$T/mnt/telemetry/STAGED.csv" | cut -d, -f1)" = 2024:061:00:00:00.000 ]
	grep -q '^good\.csv,' "$T/mnt/telemetry/.ingest/ledger.csv"
	# the dotfile is untouched and none of it is in the archive
	[ -f "$T/staging/.inprogress.csv" ]
	[ -z "$(index_samples NOTYET)" ]
	[ ! -e "$T/staging/rejected" ]
}

@test "staging: a bad file goes to rejected/ with a .reason naming the line, nothing of it stored" {
	# rows 2-4 are fine, row 5 has hour 99: the whole file must be refused
	printf 'msid,time,value\nBADFILE,2024:001:00:00:00,1\nBADFILE,2024:001:00:00:01,2\nGOODMSID,2024:001:00:00:02,3\nGOODMSID,2024:001:99:00:00,4\n' >"$T/bad.csv"
	# a good file in the same pass shows the archive did move on meanwhile
	printf 'msid,time,value\nGOODMSID,2024:002,7\nGOODMSID,2024:003,8\n' >"$T/fine.csv"
	drop bad.csv
	drop fine.csv
	# The wait for a stable (unmodified for 10 s) file is the first test's;
	# here both are made old at once.
	touch -d '-1 minute' "$T/staging/bad.csv" "$T/staging/fine.csv"
	wait_for test -f "$T/staging/rejected/bad.csv.reason"
	wait_for test -f "$T/staging/done/fine.csv"
	[ -f "$T/staging/rejected/bad.csv" ]
	[ ! -e "$T/staging/bad.csv" ]
	cmp "$T/bad.csv" "$T/staging/rejected/bad.csv"
	cat "$T/staging/rejected/bad.csv.reason"
	grep -q 'line 5' "$T/staging/rejected/bad.csv.reason"
	# Through the mount: only fine.csv's two samples, no trace of bad.csv.
	wait_for has_samples GOODMSID 2
	[ -z "$(index_samples BADFILE)" ]
	[ ! -e "$T/mnt/telemetry/BADFILE.csv" ]
	[ "$(tail -n +2 "$T/mnt/telemetry/GOODMSID.csv" | cut -d, -f3 | tr '\n' ' ')" = "7 8 " ]
	! grep -q '^bad\.csv,' "$T/mnt/telemetry/.ingest/ledger.csv"
	# And in the archive itself, read by a second process.
	"$ROOT/build/astrofs-ingest" --archive "$T/archive" --dump >"$T/dump"
	grep -q '^ledger,fine.csv,' "$T/dump"
	! grep -q 'bad\.csv\|BADFILE' "$T/dump"
	[ "$(grep -c '^s,GOODMSID,' "$T/dump")" -eq 2 ]
}
