#!/usr/bin/env bats
# /telemetry plots through a real mount, rendered in headless Chromium: for
# constant, sparse, dense, negative-valued (labels like -0.209546387), state
# and bad-time series, the SVG and the PNG each show the data in the plot
# area, a grid, no label running off the picture, and the bad-time interval
# shaded (tests/oracles/plot_check.py).

load lib

PY=/usr/bin/python3
MSIDS="TCONST TSPARSE TDENSE TNEG TSTATE TBAD TLONG"

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	[ -x "$ROOT/build/astrofs-ingest" ] || skip "build/astrofs-ingest is not built"
	command -v chromium >/dev/null || skip "chromium is not installed"
	$PY -c 'import PIL' 2>/dev/null || skip "python3-pil is not installed"
	astro_tmp
	mkdir -p "$T/cache" "$T/plots"
}

teardown() {
	cd /
	cleanup_all
}

@test "plots: every kind of series shows, labels unclipped, bad times shaded (SVG and PNG, Chromium)" {
	$PY "$ROOT/tests/data/plot_fixture.py" "$T/in.csv" "$T/bad_times"
	"$ROOT/build/astrofs-ingest" --quiet --create --archive "$T/archive" "$T/in.csv"
	"$ROOT/build/astrofs-ingest" --quiet --archive "$T/archive" --bad-times "$T/bad_times"
	astrofs_start "cache_dir=$T/cache,archive_dir=$T/archive"
	for m in $MSIDS; do
		ls "$T/mnt/telemetry" | grep -qx "$m.png"
		cp "$T/mnt/telemetry/$m.svg" "$T/mnt/telemetry/$m.png" "$T/plots/"
		# the listed size is the size read
		[ "$(stat -c %s "$T/mnt/telemetry/$m.png")" = "$(stat -c %s "$T/plots/$m.png")" ]
	done
	# units reach INDEX.csv from the CSV's unit column
	grep -q '^TNEG,rad,' "$T/mnt/telemetry/INDEX.csv"
	grep -q '^TSTATE,,' "$T/mnt/telemetry/INDEX.csv"
	# a one-hour range plot too
	cp "$T/mnt/telemetry/TDENSE@2024:001:10:00:00..2024:001:11:00:00.png" "$T/plots/TDENSE1H.png"
	cp "$T/mnt/telemetry/TDENSE@2024:001:10:00:00..2024:001:11:00:00.svg" "$T/plots/TDENSE1H.svg"
	run $PY "$ROOT/tests/oracles/plot_check.py" "$T/plots" $MSIDS TDENSE1H
	echo "$output" >&2
	[ "$status" -eq 0 ]
}
