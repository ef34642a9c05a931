#!/usr/bin/env bats
# /fits through a real mount against the verifying S3 front (tests/standin/s3) and a
# Range-honouring static server (tests/standin/rangesrv.py).  Request and byte
# counts come from the servers' own logs; expected bytes from the corpus
# files and ../shared/data/fits/groundtruth.json, or from FITS 4.0 Eq. 2
# computed by tests/data/mkstore.py.

load lib

PY=/usr/bin/python3	# Debian's: botocore and astropy

setup_file() {
	cd "$BATS_TEST_DIRNAME/../.."
	export FITS_SKIP=
	if [ ! -d "$SHARED/data/fits" ]; then
		export FITS_SKIP="../shared/data/fits is not present"
		return 0
	fi
	if ! "$PY" -c 'import botocore' 2>/dev/null; then
		export FITS_SKIP="python3-botocore is not installed"
		return 0
	fi
	export S3STATE="$BATS_FILE_TMPDIR/s3"
	local rc=0
	S3_LATENCY_MS=0 S3_PUBLIC=pub tests/standin/s3/s3server.sh start "$S3STATE" || rc=$?
	if [ "$rc" -eq 77 ]; then
		export FITS_SKIP="node or the s3rver npm dependencies are unavailable"
		return 0
	fi
	[ "$rc" -eq 0 ]
	set -a; . "$S3STATE/env"; set +a
	"$PY" tests/standin/s3/s3put.py astro --tree d "$SHARED/data/fits"
	"$PY" tests/standin/s3/s3put.py pub "hst/raw.fits=$SHARED/data/fits/astropy/o4sp040b0_raw.fits"
	"$PY" tests/data/mkstore.py cube "$S3STATE/data" astro tess/cube.fits >"$BATS_FILE_TMPDIR/cube.json"
	"$PY" tests/data/mkstore.py many "$S3STATE/data" astro many 2500
	# The plain HTTP server serves the corpus, and a requester-pays store.
	mkdir -p "$BATS_FILE_TMPDIR/web/rp"
	cp "$SHARED/data/fits/astropy/o4sp040b0_raw.fits" "$BATS_FILE_TMPDIR/web/rp/raw.fits"
	ln -s "$SHARED/data/fits" "$BATS_FILE_TMPDIR/web/corpus"
	"$PY" tests/standin/rangesrv.py "$BATS_FILE_TMPDIR/web" --log "$BATS_FILE_TMPDIR/web.log" \
		>"$BATS_FILE_TMPDIR/web.out" 2>"$BATS_FILE_TMPDIR/web.err" &
	echo $! >"$BATS_FILE_TMPDIR/web.pid"
	for _ in $(seq 1 50); do
		grep -q '^listening' "$BATS_FILE_TMPDIR/web.out" && break
		sleep 0.1
	done
	WEB_PORT=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$BATS_FILE_TMPDIR/web.out")
	[ -n "$WEB_PORT" ]
	echo "$WEB_PORT" >"$BATS_FILE_TMPDIR/web.port"
}

teardown_file() {
	[ -n "${S3STATE:-}" ] && tests/standin/s3/s3server.sh stop "$S3STATE" || true
	if [ -f "$BATS_FILE_TMPDIR/web.pid" ]; then
		kill "$(cat "$BATS_FILE_TMPDIR/web.pid")" 2>/dev/null || true
	fi
}

setup() {
	[ -z "$FITS_SKIP" ] || skip "$FITS_SKIP"
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	set -a; . "$S3STATE/env"; set +a
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE
	export AWS_SHARED_CREDENTIALS_FILE=/dev/null
	WEB="http://127.0.0.1:$(cat "$BATS_FILE_TMPDIR/web.port")"
	T=$BATS_TEST_TMPDIR
	M=$T/mnt/fits
	creds "$S3_SK"
}

teardown() {
	unmount_astrofs
}

# creds SECRET: an AWS credentials file for the front's key.
creds() {
	printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$S3_AK" "$1" >"$T/aws"
	chmod 600 "$T/aws"
}

# fits_mount [extra options]: mount against the front (with $T/aws if present).
fits_mount() {
	mkdir -p "$T/mnt" "$T/cache"
	local opts="cache_dir=$T/cache,s3_endpoint=$S3_ENDPOINT,fits_buckets=astro,timeout=10"
	[ -f "$T/aws" ] && opts="$opts,s3_credentials=$T/aws"
	[ -n "${1:-}" ] && opts="$opts,$1"
	astrofs_start "$opts"
}

s3log_reset() { : >"$S3_LOG"; }
# s3count METHOD PATH-REGEX: requests in the front's log since the reset.
s3count() { awk -F'\t' -v m="$1" -v p="$2" '$1 == m && $2 ~ p' "$S3_LOG" | wc -l; }
s3bytes() { awk -F'\t' -v m="$1" -v p="$2" '$1 == m && $2 ~ p { s += $5 } END { print s + 0 }' "$S3_LOG"; }

@test "fits: every corpus file: headers/N byte-identical, hdus.csv = groundtruth, raw sha256, EIO/ENOENT past the end" {
	fits_mount
	# Headers never read data units: HorseHead.fits is 1.6 MB, its
	# primary data unit 1.59 MB sits between the two headers.
	s3log_reset
	cat "$M/astro/d/astropy-data/HorseHead.fits/headers/"* >/dev/null
	[ "$(s3bytes GET 'HorseHead')" -lt 200000 ]
	run "$PY" tests/oracles/check_corpus.py "$M/astro/d" "$SHARED/data/fits"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "fits: listing shows buckets, prefixes and FITS objects as directories" {
	fits_mount
	[ "$(ls "$M")" = astro ]
	run ls "$M/astro/d"
	[[ "$output" == *astropy-data* && "$output" == *nom-tam-fits* ]]
	run ls "$M/astro/d/astropy"
	[[ "$output" == *o4sp040b0_raw.fits* ]]
	[[ "$output" != *lzw.fits.Z* ]]		# not a FITS object name
	[ "$(ls "$M/astro/d/astropy/o4sp040b0_raw.fits" | tr '\n' ' ')" = "hdus.csv headers raw " ]
	[ "$(ls "$M/astro/d/astropy/o4sp040b0_raw.fits/headers" | wc -l)" -eq 7 ]
	[ "$(stat -c %s "$M/astro/d/astropy/o4sp040b0_raw.fits/raw")" -eq \
	  "$(stat -c %s "$SHARED/data/fits/astropy/o4sp040b0_raw.fits")" ]
	run stat "$M/astro/nosuch/x.fits/headers/0"
	[[ "$output" == *"No such file"* ]]
	run ls "$M/no-such-bucket"
	[[ "$output" == *"No such file"* ]]
	run cat "$M/astro/d/astropy/o4sp040b0_raw.fits/headers/x"
	[[ "$output" == *"No such file"* ]]
}

@test "fits: sparse 44 GB cube: all headers in <= 4 GETs and 256 KiB, re-reads and a remount 0 GETs, offline from LMDB" {
	fits_mount
	C=$M/astro/tess/cube.fits
	s3log_reset
	for n in 0 1 2; do cat "$C/headers/$n" >"$T/h$n"; done
	cat "$C/hdus.csv" >"$T/csv"
	cat "$S3_LOG"
	[ "$(s3count GET '^/astro/tess/cube.fits$')" -le 4 ]
	[ "$(s3bytes GET '^/astro/tess/cube.fits$')" -le 262144 ]
	# Expected: the header bytes in the store, cut into cards.
	"$PY" - "$S3STATE/data/astro/tess/cube.fits._S3rver_object" "$BATS_FILE_TMPDIR/cube.json" "$T" <<'EOF'
import csv, json, sys
obj, lay, t = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3]
with open(obj, "rb") as f:
    for i, h in enumerate(lay["hdus"]):
        f.seek(h["header_offset"])
        raw = f.read(h["header_bytes"])
        end = max(k for k in range(0, len(raw), 80) if raw[k:k + 80] == b"END".ljust(80))
        want = b"".join(raw[k:k + 80] + b"\n" for k in range(0, end + 80, 80))
        assert open("%s/h%d" % (t, i), "rb").read() == want, "header %d" % i
rows = list(csv.DictReader(open(t + "/csv")))
assert len(rows) == 3
for r, h in zip(rows, lay["hdus"]):
    for k in ("header_offset", "header_bytes", "data_offset", "data_bytes"):
        assert int(r[k]) == h[k], (r, h)
EOF
	[ "$(stat -c %s "$C/raw")" -eq "$(jq .size "$BATS_FILE_TMPDIR/cube.json")" ]
	s3log_reset
	cat "$C"/headers/* "$C/hdus.csv" >/dev/null
	[ "$(s3count GET cube)" -eq 0 ]
	# A new mount on the same cache: the walk comes from LMDB.
	unmount_astrofs
	fits_mount
	s3log_reset
	cat "$C"/headers/* "$C/hdus.csv" >/dev/null
	[ "$(s3count GET cube)" -eq 0 ]
	# Offline: what was walked is served without any request.
	unmount_astrofs
	fits_mount offline
	s3log_reset
	cmp "$C/headers/2" "$T/h2"
	cmp "$C/hdus.csv" "$T/csv"
	[ ! -s "$S3_LOG" ]
	run cat "$M/astro/d/astropy/o4sp040b0_raw.fits/headers/0"
	[ "$status" -ne 0 ]
	grep -q 'not cached and the mount is offline' "$T/astrofs.log"
}

@test "fits: a small object opened by name costs one LIST and one GET of the whole object" {
	"$PY" tests/standin/s3/s3put.py astro "byname/hst.fits=$SHARED/data/fits/astropy/o4sp040b0_raw.fits" \
		"byname/other.fits=$SHARED/data/fits/astropy-data/HorseHead.fits" \
		"byname/zz.fits=$SHARED/data/fits/astropy-data/HorseHead.fits" \
		"onlyjunk/readme.txt=$BATS_FILE_TMPDIR/cube.json"
	fits_mount
	s3log_reset
	cat "$M/astro/byname/hst.fits/headers/"* >/dev/null
	cat "$S3_LOG"
	# the probe of byname/ is one page holding the whole prefix, so the
	# object's size comes with it and the walk reads all 74,880 bytes at once
	[ "$(s3count GET '^/astro$')" -eq 1 ]
	[ "$(s3count HEAD .)" -eq 0 ]
	[ "$(s3count GET '^/astro/byname/hst.fits$')" -eq 1 ]
	[ "$(s3bytes GET '^/astro/byname/hst.fits$')" -eq "$(stat -c %s "$SHARED/data/fits/astropy/o4sp040b0_raw.fits")" ]
	# a prefix holding no FITS object still exists (and lists empty)
	[ -d "$M/astro/onlyjunk" ]
	[ -z "$(ls "$M/astro/onlyjunk")" ]
	[ ! -e "$M/astro/nothing-here" ]
}

@test "fits: headers by EXTNAME[,EXTVER] alias; 16 parallel cold readers share one walk" {
	fits_mount
	H=$M/astro/d/astropy/o4sp040b0_raw.fits/headers
	cmp "$H/SCI,2" "$H/4"
	cmp "$H/err" "$H/2"		# case-insensitive, first ERR
	cmp "$H/DQ,1" "$H/3"
	run cat "$H/NOPE"
	[[ "$output" == *"No such file"* ]]
	run cat "$H/SCI,3"
	[[ "$output" == *"No such file"* ]]
	[ "$(ls "$H" | tr '\n' ' ')" = "0 1 2 3 4 5 6 " ]	# aliases are not listed
	s3log_reset
	local pids=()
	for _ in $(seq 1 16); do
		cat "$M/astro/tess/cube.fits/headers/2" >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"	# not a bare wait: the daemon is a child too
	cat "$S3_LOG"
	[ "$(s3count GET '^/astro/tess/cube.fits$')" -le 4 ]
	[ "$(s3count HEAD .)" -eq 0 ]
}

@test "fits: virtual-host-style addressing (astro.s3.localhost) signs and reads the same bytes" {
	fits_mount "s3_endpoint=http://s3.localhost:$S3_PORT,s3_path_style=0"
	s3log_reset
	ls "$M/astro/d" >/dev/null
	cmp "$M/astro/d/astropy/o4sp040b0_raw.fits/raw" "$SHARED/data/fits/astropy/o4sp040b0_raw.fits"
	ls "$M/astro/d/astropy" | grep -q '^o4sp040b0_raw.fits$'
	# The front verified signatures made for Host astro.s3.localhost:PORT
	# (test_s3 checks the address itself); it logs the path after its
	# vhost rewrite, so the log cannot tell the styles apart.
	[ "$(s3count GET '^/astro/d/astropy/o4sp040b0_raw.fits$')" -ge 1 ]
}

@test "fits: a wrong secret surfaces as EACCES with one log line naming the cause" {
	creds 0000000000000000000000000000000000000000
	fits_mount
	run cat "$M/astro/d/astropy/o4sp040b0_raw.fits/headers/0"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	run ls "$M/astro"
	[[ "$output" == *"Permission denied"* ]]
	grep -q 'SignatureDoesNotMatch.*secret' "$T/astrofs.log"
}

@test "fits: anonymous access reads a public bucket; a private one is EACCES" {
	rm "$T/aws"
	fits_mount "s3_anonymous,fits_buckets=pub"
	[ "$(ls "$M")" = pub ]
	cmp <(head -c 17280 "$SHARED/data/fits/astropy/o4sp040b0_raw.fits" | fold -w 80 | grep -m1 -n '^END ' | cut -d: -f1) \
	    <(wc -l <"$M/pub/hst/raw.fits/headers/0")
	[ "$(sed -n 2p "$M/pub/hst/raw.fits/hdus.csv" | cut -d, -f7-)" = "0,17280,17280,0" ]
	run cat "$M/astro/d/astropy/o4sp040b0_raw.fits/headers/0"
	[[ "$output" == *"Permission denied"* ]]
}

@test "fits: requester pays: the header is sent and signed (front accepts it; web log shows it)" {
	fits_mount "s3_request_payer"
	cat "$M/astro/d/astropy/o4sp040b0_raw.fits/headers/1" >/dev/null
	unmount_astrofs
	# The front refuses x-amz-* headers that are not signed; the header
	# itself is seen by the logging server standing in as an endpoint.
	: >"$BATS_FILE_TMPDIR/web.log"
	mkdir -p "$T/cache2"
	astrofs_start "cache_dir=$T/cache2,s3_endpoint=$WEB/files,s3_credentials=$T/aws,s3_request_payer,fits_buckets=rp,timeout=10"
	cat "$M/rp/raw.fits/headers/0" >/dev/null
	cat "$BATS_FILE_TMPDIR/web.log"
	grep -P '^GET\t/files/rp/raw.fits\t.*payer=requester\tsigned=\S*x-amz-request-payer' "$BATS_FILE_TMPDIR/web.log"
}

@test "fits: an object replaced upstream is detected and walked again" {
	fits_mount fits_ttl=0
	"$PY" tests/standin/s3/s3put.py astro "swap/x.fits=$SHARED/data/fits/astropy/o4sp040b0_raw.fits"
	cmp <(cut -d, -f1 "$M/astro/swap/x.fits/hdus.csv" | tail -1) <(echo 6)
	"$PY" tests/standin/s3/s3put.py astro "swap/x.fits=$SHARED/data/fits/astropy-data/HorseHead.fits"
	sleep 1.2	# the object TTL and the kernel's 1 s attribute cache
	[ "$(tail -1 "$M/astro/swap/x.fits/hdus.csv" | cut -d, -f1,2)" = "1,TABLE" ]
	cmp "$M/astro/swap/x.fits/raw" "$SHARED/data/fits/astropy-data/HorseHead.fits"
	grep -q 'changed upstream' "$T/astrofs.log"
}

@test "fits: HTTP sources by name; a server that ignores Range fails clearly without downloading" {
	fits_mount "fits_http=web=$WEB/files/corpus;flat=$WEB/norange/corpus;huge=$WEB/norange-big"
	run "$PY" tests/oracles/check_corpus.py "$M/web" "$SHARED/data/fits"
	echo "$output"
	[ "$status" -eq 0 ]
	# Not listed: reachable by name only.
	[ "$(ls "$M")" = astro ]
	run cat "$M/flat/astropy/o4sp040b0_raw.fits/headers/0"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Input/output error"* ]]
	grep -q 'ignored the Range header' "$T/astrofs.log"
	: >"$BATS_FILE_TMPDIR/web.log"
	run cat "$M/huge/cube.fits/headers/0"
	[ "$status" -ne 0 ]
	sleep 0.5
	cat "$BATS_FILE_TMPDIR/web.log"
	# The server streamed an 8 GiB body; astrofs hung up within the socket buffers.
	[ "$(awk -F'\t' '$1 == "GET" { s += $5 } END { print s + 0 }' "$BATS_FILE_TMPDIR/web.log")" -lt $((64 << 20)) ]
}

@test "fits: a prefix with 2,500 keys lists completely; ls -l costs only LIST requests" {
	fits_mount
	s3log_reset
	[ "$(ls -l "$M/astro/many" | grep -c '^d')" -eq 2500 ]
	[ "$(ls "$M/astro/many" | tail -1)" = f02499.fits ]
	cut -f1,2 "$S3_LOG" | sort | uniq -c
	[ "$(s3count HEAD .)" -eq 0 ]
	[ "$(s3count GET '^/astro/.')" -eq 0 ]
	[ "$(s3count GET '^/astro$')" -ge 3 ]
}

@test "fits: astropy opens raw (memmap) and reads a header" {
	fits_mount
	"$PY" - "$M/astro/d/astropy-data/HorseHead.fits/raw" "$SHARED/data/fits/astropy-data/HorseHead.fits" <<'EOF'
import sys
from astropy.io import fits
with fits.open(sys.argv[1]) as a, fits.open(sys.argv[2]) as b:
    assert len(a) == len(b) == 2
    assert a[0].header["OBJECT"] == b[0].header["OBJECT"]
    assert repr(a[1].header) == repr(b[1].header)
    assert (a[0].data == b[0].data).all()
EOF
}
