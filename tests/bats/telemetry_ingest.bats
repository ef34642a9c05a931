#!/usr/bin/env bats
# astrofs-ingest: a kill -9 in the middle of a large ingest leaves the
# archive exactly as before (LMDB commits the one transaction or nothing),
# and the same file then ingests in full.  No mount needed.

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
INGEST=$ROOT/build/astrofs-ingest

setup() {
	[ -x "$INGEST" ] || skip "build/astrofs-ingest is not built"
	T=$(mktemp -d "${TMPDIR:-/tmp}/astrofs-ingest-bats.XXXXXX")
	printf 'msid,time,value\nSMALL,2020:001,1\nSMALL,2020:002,2\n' >"$T/small.csv"
	"$INGEST" --quiet --create --archive "$T/arc" "$T/small.csv"
	# 3 M rows, ~1.5 s of work: long enough to be caught mid-way
	awk 'BEGIN { print "msid,time,value"; for (i = 0; i < 3000000; i++) printf "BIG,secs:%d,%d.5\n", 700000000 + i, i % 1000 }' >"$T/big.csv"
}

teardown() {
	[ -n "${PID:-}" ] && kill -9 "$PID" 2>/dev/null || true
	rm -rf "$T"
}

# kill_after SECONDS: start an ingest of big.csv and kill -9 it after SECONDS;
# succeeds only if it was still running when killed.
kill_after() {
	"$INGEST" --quiet --archive "$T/arc" "$T/big.csv" &
	PID=$!
	sleep "$1"
	kill -9 "$PID" 2>/dev/null
	local killed=$?
	wait "$PID" 2>/dev/null || true
	PID=
	return $killed
}

@test "ingest: kill -9 mid-ingest leaves the archive unchanged, then it ingests whole" {
	"$INGEST" --archive "$T/arc" --dump >"$T/before"
	grep -q '^ledger,small.csv,' "$T/before"
	local kills=0
	for delay in 0.3 0.9; do
		if kill_after "$delay"; then
			kills=$((kills + 1))
			"$INGEST" --archive "$T/arc" --dump >"$T/after"
			cmp "$T/before" "$T/after"
		fi
	done
	# at least one kill must have landed while the ingest ran
	[ "$kills" -ge 1 ]
	run "$INGEST" --archive "$T/arc" "$T/big.csv"
	[ "$status" -eq 0 ]
	"$INGEST" --archive "$T/arc" --dump >"$T/full"
	grep -q '^ledger,big.csv,[0-9a-f]*,3000000,' "$T/full"
	grep -q '^msid,BIG,2,3000000$' "$T/full"
	[ "$(grep -c '^s,BIG,' "$T/full")" -eq 3000000 ]
	# and again: nothing new
	run "$INGEST" --archive "$T/arc" "$T/big.csv"
	[ "$status" -eq 0 ]
	[[ "$output" == *"already ingested"* ]]
}

@test "ingest: a rejected file exits 1 naming the line, and changes nothing" {
	printf 'msid,time,value\nX,2020:001,1\nX,2020:001:99:00:00,2\n' >"$T/bad.csv"
	"$INGEST" --archive "$T/arc" --dump >"$T/before"
	run "$INGEST" --archive "$T/arc" "$T/bad.csv"
	[ "$status" -eq 1 ]
	[[ "$output" == *"bad.csv: rejected: line 3: time"* ]]
	"$INGEST" --archive "$T/arc" --dump >"$T/after"
	cmp "$T/before" "$T/after"
	mkdir "$T/other"
	printf 'msid,time,value\nSMALL,2020:001,5\n' >"$T/other/small.csv"
	run "$INGEST" --archive "$T/arc" "$T/other/small.csv"
	[ "$status" -eq 1 ]
	[[ "$output" == *"--replace"* ]]
	run "$INGEST" --archive "$T/arc" --replace "$T/other/small.csv"
	[ "$status" -eq 0 ]
	run "$INGEST" --archive "$T/arc" --dump
	[[ "$output" == *"s,SMALL,694224069.184,5,0"* ]]
	[[ "$output" != *"s,SMALL,694310469.184,2,0"* ]]
	run "$INGEST"
	[ "$status" -eq 2 ]
}

@test "ingest: a missing archive is refused unless --create; --version" {
	# A mistyped DIR must not become a new, empty archive.
	run "$INGEST" --archive "$T/nonexistent/x" "$T/small.csv"
	[ "$status" -eq 3 ]
	[[ "$output" == *"$T/nonexistent/x"*"--create"* ]]
	[ ! -e "$T/nonexistent" ]
	mkdir "$T/empty"
	run "$INGEST" --archive "$T/empty" "$T/small.csv"
	[ "$status" -eq 3 ]
	[ -z "$(ls -A "$T/empty")" ]
	run "$INGEST" --archive "$T/nonexistent/x" --dump
	[ "$status" -eq 3 ]
	[ ! -e "$T/nonexistent" ]
	# --create makes it; an existing archive needs no --create (and takes it).
	"$INGEST" --quiet --create --archive "$T/new/x" "$T/small.csv"
	"$INGEST" --archive "$T/new/x" --dump | grep -q '^ledger,small.csv,'
	"$INGEST" --quiet --create --archive "$T/new/x" "$T/small.csv"
	"$INGEST" --create --archive "$T/only"
	[ -f "$T/only/data.mdb" ]
	run "$INGEST" --version
	[ "$status" -eq 0 ]
	[ "$output" = "astrofs-ingest $(cat "$ROOT/VERSION")" ]
}

@test "ingest: a progress bar on a terminal, one summary line otherwise" {
	command -v script >/dev/null || skip "script(1) is not installed"
	script -qec "'$INGEST' --archive '$T/arc' '$T/big.csv'" "$T/pty.out" >/dev/null
	# redraws in place: percent, bar, rate and ETA, rising to the end
	tr '\r' '\n' <"$T/pty.out" | grep -E '^\[1/1\] .*big\.csv +[0-9]+% \[[#-]+\] +[0-9.]+ MB/s +[0-9.]+ M samples +ETA [-0-9]:[-0-9]{2}' >"$T/bars"
	[ "$(wc -l <"$T/bars")" -ge 3 ]
	pcts=$(sed -E 's/.*big\.csv +([0-9]+)%.*/\1/' "$T/bars")
	[ "$(printf '%s\n' "$pcts" | sort -n | tr '\n' ' ')" = "$(printf '%s\n' "$pcts" | tr '\n' ' ')" ]
	[ "$(printf '%s\n' "$pcts" | tail -1)" -ge 80 ]
	grep -q 'big.csv: 3000000 samples in' "$T/pty.out"
	# not a terminal: no bar, no carriage returns, one line (log warnings aside)
	cp "$T/big.csv" "$T/big2.csv"
	"$INGEST" --archive "$T/arc" "$T/big2.csv" 2>&1 </dev/null | grep -v 'astrofs\[warning\]' >"$T/plain"
	[ "$(wc -l <"$T/plain")" -eq 1 ]
	! grep -q $'\r' "$T/plain"
	grep -q "^$T/big2.csv: 3000000 samples in [0-9.]* s$" "$T/plain"
}

@test "ingest: memory follows the chunk, not the file (3 M rows in well under the whole-file peak)" {
	[ -x /usr/bin/time ] || skip "GNU time is not installed"
	# A whole-file ingest holds the parsed batch (32 B/sample), a sort array
	# (24 B/sample) and the mapped input besides LMDB's dirty pages: it peaked
	# at 359 MB on this file.  Chunked, only the dirty pages (~35 B/sample,
	# at most LMDB's 512 MB spill limit) and one 8 MiB chunk remain.
	/usr/bin/time -f '%M' -o "$T/rss" "$INGEST" --quiet --archive "$T/arc" "$T/big.csv"
	local kb
	kb=$(tail -1 "$T/rss")
	echo "peak RSS ${kb} kB" >&2
	[ "$kb" -lt 200000 ]
	"$INGEST" --archive "$T/arc" --dump | grep -c '^s,BIG,' | grep -qx 3000000
}
