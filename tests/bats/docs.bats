#!/usr/bin/env bats
# Man pages: they render without warnings, and astrofs(8) and --help name
# every option of SPEC section 1 (the contract), read from SPEC's table.

load lib

PAGES=(doc/astrofs.8 doc/astrofs-ingest.1 doc/astrofs-obssim.1)

# Used when SPEC.md is not there; kept equal to SPEC section 1's table.
FALLBACK_OPTIONS="config cache_dir cache_max timeout offline spacetrack_url spacetrack_credentials
	spacetrack_rate tle_ttl tle_final_after s3_endpoint s3_region s3_credentials s3_profile
	s3_anonymous s3_request_payer s3_path_style fits_buckets fits_http archive_dir staging_dir
	satfilter_catalog satfilter_refresh site_lat site_lon site_height obs_config obs_store
	uid gid umask allow_other default_permissions ro"

# The option names of SPEC section 1: the back-quoted words of the first
# column of the table under "### Options", up to section 2.
spec_options() {
	local spec=$SHARED/docs/SPEC.md
	[ -f "$spec" ] || return 1
	awk '/^### Options/ { on = 1; next } /^## 2\./ { on = 0 } on && /^\| *`/' "$spec" |
		cut -d'|' -f2 | grep -o '`[a-z0-9_]*`' | tr -d '`'
}

# SPEC options whose issue is still open: not built, so not documented yet.
# Each must be refused by the daemon as unknown (the test below checks), so
# an option cannot be built and left off this list, or documented and kept
# on it.
PLANNED_OPTIONS=""

planned() {
	echo "$PLANNED_OPTIONS" | tr -s ' \t' '\n\n' | sed '/^$/d'
}

# SPEC's options that are built: the ones every document must name.
options() {
	local o
	if o=$(spec_options) && [ -n "$o" ]; then
		echo "$o" | grep -vxF -f <(planned)
	else
		echo "$FALLBACK_OPTIONS" | tr -s ' \t' '\n\n' | sed '/^$/d'
	fi
}

@test "docs: every man page renders with man -l and groff without warnings" {
	command -v groff >/dev/null || skip "groff is not installed"
	command -v man >/dev/null || skip "man is not installed"
	cd "$ROOT"
	for p in "${PAGES[@]}"; do
		[ -f "$p" ] || { echo "missing $p"; false; }
		out=$(groff -man -ww -z "$p" 2>&1)
		[ -z "$out" ] || { echo "groff on $p: $out"; false; }
		for w in 80 66; do
			out=$(MANWIDTH=$w man --warnings=w -l "$p" 2>&1 >/dev/null)
			[ -z "$out" ] || { echo "man -l $p at width $w: $out"; false; }
			text=$(MANWIDTH=$w man -l "$p" 2>/dev/null)
			[ "$(echo "$text" | wc -l)" -gt 30 ] || { echo "$p renders to almost nothing"; false; }
		done
	done
}

@test "docs: the SPEC option list is found (else the fallback list is used)" {
	spec_options >/dev/null || skip "SPEC.md not found under $SHARED/docs; the tests use their own option list"
	n=$(spec_options | wc -l)
	echo "SPEC options: $n"
	# The table has about thirty-five; far fewer means the extraction broke.
	[ "$n" -ge 30 ]
	spec_options | grep -qx site_height
	spec_options | grep -qx default_permissions
}

@test "docs: SPEC options not built yet are refused as unknown and named nowhere" {
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	require_fuse
	astro_tmp
	mkdir -p "$T/mnt"
	cd "$ROOT"
	text=$(MANWIDTH=1000 man -l doc/astrofs.8 2>/dev/null)
	for o in $(planned); do
		if spec=$(spec_options); then
			grep -qx "$o" <<<"$spec" || { echo "$o is no longer in SPEC: drop it from PLANNED_OPTIONS"; false; }
		fi
		run "$ASTROFS" docs "$T/mnt" -o "$o=x,offline,cache_dir=$T/cache,archive_dir=$T/archive,obs_store=$T/obs"
		[ "$status" -ne 0 ] && grep -q "unknown option: $o" <<<"$output" ||
			{ echo "$o is built ($output): document it and drop it from PLANNED_OPTIONS"; false; }
		mountpoint -q "$T/mnt" && fusermount3 -u "$T/mnt"
		! grep -qE "(^|[^a-z_])$o([^a-z_]|$)" <<<"$text" || { echo "astrofs.8 names $o: drop it from PLANNED_OPTIONS"; false; }
	done
	echo "SPEC options of open issues, not built yet: $(planned | tr '\n' ' ')"
}

@test "docs: astrofs(8) names every option of SPEC section 1, with its default" {
	command -v man >/dev/null || skip "man is not installed"
	cd "$ROOT"
	# Wide enough that no word is hyphenated at a line end.
	text=$(MANWIDTH=1000 man -l doc/astrofs.8 2>/dev/null)
	missing=
	for o in $(options); do
		grep -qE "(^|[^a-z_])$o([^a-z_]|$)" <<<"$text" || missing="$missing $o"
	done
	[ -z "$missing" ] || { echo "astrofs.8 lacks:$missing"; false; }
	# Each documented option has a tagged paragraph in OPTIONS saying its default.
	opts=$(sed -n '/^OPTIONS/,/^FILES IN THE MOUNT/p' <<<"$text")
	grep -c 'Default' <<<"$opts" | { read -r n; [ "$n" -ge 30 ]; }
}

@test "docs: astrofs --help names every option of SPEC section 1" {
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	run "$ASTROFS" --help
	[ "$status" -eq 0 ]
	missing=
	for o in $(options); do
		grep -qE "(^|[^a-z_])$o([^a-z_]|$)" <<<"$output" || missing="$missing $o"
	done
	[ -z "$missing" ] || { echo "--help lacks:$missing"; false; }
}

@test "docs: the example config names every option of SPEC section 1 and parses uncommented" {
	cd "$ROOT"
	conf=mount-helpers/astrofs.conf
	missing=
	# `config` names this file itself, so it cannot be in it.
	for o in $(options | grep -vx config); do
		grep -qE "^# $o =( |$)" "$conf" || missing="$missing $o"
	done
	[ -z "$missing" ] || { echo "$conf lacks:$missing"; false; }
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	require_fuse
	astro_tmp
	mkdir -p "$T/mnt"
	# Every default, uncommented, must be accepted as it stands.
	sed -E 's/^# ([a-z_0-9]+ = )/\1/' "$conf" >"$T/astrofs.conf"
	run "$ASTROFS" docs "$T/mnt" -o "config=$T/astrofs.conf,offline,cache_dir=$T/cache,archive_dir=$T/archive,obs_store=$T/obs"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q '^cache_max = 8G' "$T/mnt/.astrofs/config"
	grep -q '^spacetrack_rate = 20/min,200/h' "$T/mnt/.astrofs/config"
}

teardown() {
	cleanup_all
}

# The option table, as --help prints it: "name default" per row, the
# default empty when there is none (the first word after "(default: ").
help_rows() {
	"$ASTROFS" --help | sed -nE 's/^     ([a-z][a-z0-9_]*)[= ].*/\1 &/p' |
		while read -r name line; do
			def=$(sed -nE 's/.*\(default: ([^ )]*).*/\1/p' <<<"$line")
			echo "$name $def"
		done
}

# The rendered tagged paragraph(s) of astrofs(8)'s OPTIONS whose tag names $1.
man_paragraph() {
	LC_ALL=C MANWIDTH=1000 man -l doc/astrofs.8 2>/dev/null |
		sed -n '/^OPTIONS/,/^FILES IN THE MOUNT/p' |
		awk -v o="$1" '
			/^[^ ]/ || /^   [^ ]/ { on = 0; next }
			/^       [^ ]/ { on = match($0, "(^|[^a-z_])" o "([^a-z_]|$)") > 0 }
			on'
}

@test "docs: every row of the option table is in --help, the dump, astrofs(8) and astrofs.conf, with one default" {
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	command -v man >/dev/null || skip "man is not installed"
	require_fuse
	cd "$ROOT"
	rows=$(help_rows)
	echo "$rows"
	[ "$(wc -l <<<"$rows")" -ge 50 ]
	# --help prints the table; the dump walks it: the same names in the same order.
	astro_tmp
	mkdir -p "$T/mnt"
	run "$ASTROFS" docs "$T/mnt" -o "offline,cache_dir=$T/cache,archive_dir=$T/archive,obs_store=$T/obs"
	[ "$status" -eq 0 ]
	dumped=$(sed -E 's/ =.*//' "$T/mnt/.astrofs/config" | grep -vxE 'spacetrack_(user|password)')
	fusermount3 -u "$T/mnt"
	diff <(cut -d' ' -f1 <<<"$rows") <(echo "$dumped")
	bad=
	while read -r o def; do
		para=$(man_paragraph "$o")
		[ -n "$para" ] || { bad="$bad
$o: no paragraph in astrofs.8"; continue; }
		if [ -n "$def" ]; then
			grep -qwF -- "$def" <<<"$para" || bad="$bad
$o: astrofs.8 does not give the default $def"
		fi
		# `config` names the config file itself, so it cannot be in it.
		[ "$o" = config ] && continue
		grep -qxF "# $o =${def:+ $def}" mount-helpers/astrofs.conf || bad="$bad
$o: astrofs.conf lacks \"# $o =${def:+ $def}\""
	done <<<"$rows"
	[ -z "$bad" ] || { echo "$bad"; false; }
}


@test "docs: astrofs-ingest(1) and astrofs-obssim(1) name every option their --help shows" {
	cd "$ROOT"
	n=0
	for p in astrofs-ingest astrofs-obssim; do
		[ -x "build/$p" ] || continue
		n=$((n + 1))
		help=$("build/$p" --help 2>&1 || true)
		text=$(MANWIDTH=1000 man -l "doc/$p.1" 2>/dev/null)
		missing=
		for o in $(grep -oE -- '--[a-z][a-z-]*' <<<"$help" | sort -u); do
			grep -qF -- "$o" <<<"$text" || missing="$missing $o"
		done
		[ -z "$missing" ] || { echo "$p.1 lacks:$missing"; false; }
	done
	[ "$n" -gt 0 ] || skip "neither astrofs-ingest nor astrofs-obssim is built yet"
}
