#!/bin/bash
# /fits benchmark: every header of (a) a sparse 44 GB TESS-like cube, (b) the
# 7-HDU HST raw file of the corpus (75 KB: nearly all header), (b') a sparse
# 168 MB 7-HDU file laid out like an ACS/WFC _flt (tests/data/mkstore.py
# hstlike), (c) 100 small files under one prefix, read through an
# astrofs mount from the verifying S3 front with 20 ms added per response
# (front.js --latency-ms).  Columns: wall time, GET/HEAD/LIST requests and
# bytes received, counted in the front's own log.  Cold = empty cache; warm
# = same mount again (memory); remount = new mount on the same LMDB cache.
# Peers, each reading every HDU's header with astropy (bench/
# peer_fsspec.py, Debian's python3-astropy 5.2 defaults):
#   fsspec  fits.open(url, use_fsspec=True) over HTTP (python3-fsspec +
#           python3-aiohttp) from tests/standin/rangesrv.py serving the same
#           objects with the same added latency; counted in its log;
#   s3fs    fits.open(path) on an s3fs-fuse mount (Debian s3fs) of the same
#           S3 front; counted in the front's log.
# A peer whose package is missing is skipped, saying so.  astrofs is timed
# around `cat` (process starts included); the peers around their reads
# inside one Python process (interpreter start and imports excluded).
# Then goal lines (issue 3), each ending "met" or "missed".
#
#   bench/fits.sh [LATENCY_MS]        (FITS_ONLY=small: the small-object rows alone)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${ASTRO_SHARED:-$(cd .. && pwd)/shared}
LAT=${1:-20}
PY=/usr/bin/python3
[ -x build/astrofs ] || make -s all
tmp=$(mktemp -d /tmp/astro-fits-bench-XXXXXX)
mnt=$tmp/mnt
s3mnt=$tmp/s3fs-mnt
cleanup() {
	mountpoint -q "$mnt" 2>/dev/null && fusermount3 -u "$mnt" 2>/dev/null || true
	mountpoint -q "$s3mnt" 2>/dev/null && fusermount3 -u "$s3mnt" 2>/dev/null || true
	local f
	for f in astrofs s3fs web; do
		[ -f "$tmp/$f.pid" ] && kill "$(cat "$tmp/$f.pid")" 2>/dev/null || true
	done
	tests/standin/s3/s3server.sh stop "$tmp/s3" >/dev/null 2>&1 || true
	[ -n "${FITS_KEEP:-}" ] && { echo "kept $tmp"; return; }; rm -rf "$tmp"
}
trap cleanup EXIT

S3_LATENCY_MS=$LAT tests/standin/s3/s3server.sh start "$tmp/s3" >/dev/null
set -a; . "$tmp/s3/env"; set +a
$PY tests/data/mkstore.py cube "$tmp/s3/data" astro tess/cube.fits >/dev/null
$PY tests/data/mkstore.py hstlike "$tmp/s3/data" astro hstlike/flt.fits >/dev/null
$PY tests/data/mkstore.py many "$tmp/s3/data" astro small 100
hst=$SHARED/data/fits/astropy/o4sp040b0_raw.fits
if [ -r "$hst" ]; then
	$PY tests/standin/s3/s3put.py astro "hst/o4sp040b0_raw.fits=$hst"
else
	echo "# $hst not present: the HST rows are skipped"
	hst=
fi
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$S3_AK" "$S3_SK" >"$tmp/aws"
chmod 600 "$tmp/aws"

mount_fs() {
	mkdir -p "$mnt" "$tmp/cache"
	build/astrofs bench "$mnt" -f -o "cache_dir=$tmp/cache,s3_endpoint=$S3_ENDPOINT,s3_credentials=$tmp/aws,fits_buckets=astro,timeout=30${MOUNT_EXTRA:+,$MOUNT_EXTRA}" 2>>"$tmp/astrofs.log" &
	echo $! >"$tmp/astrofs.pid"
	for _ in $(seq 1 100); do [ -f "$mnt/.astrofs/version" ] && return 0; sleep 0.1; done
	cat "$tmp/astrofs.log" >&2
	exit 1
}
umount_fs() {
	fusermount3 -u "$mnt"
	for _ in $(seq 1 100); do kill -0 "$(cat "$tmp/astrofs.pid")" 2>/dev/null || break; sleep 0.1; done
	rm -f "$tmp/astrofs.pid"
}

# all_headers OBJDIR...: read every header of each object (and hdus.csv).
all_headers() {
	for o in "$@"; do cat "$o"/headers/* "$o/hdus.csv" >/dev/null; done
}

# count LABEL CASE MS LOG: print (and keep in $tmp/results) one row from a
# request log, the front's or rangesrv's (both: method, path, range, status,
# bytes).  A GET of the bucket itself is a LIST; HEAD bytes are not sent.
count() {
	awk -F'\t' -v l="$1" -v c="$2" -v ms="$3" '
		$1 == "GET" && ($2 == "/astro" || $2 == "/astro/") { l2++ ; b += $5; next }
		$1 == "GET" { g++ ; b += $5 }
		$1 == "HEAD" { h++ }
		END { printf "%-10s %-8s %8d ms %5d GET %5d HEAD %4d LIST %12d B\n", c, l, ms, g, h, l2, b }' "$4" |
		tee -a "$tmp/results"
}

# CPU seconds (user + system, in clock ticks) the S3 stand-in has used
s3_cpu() { awk '{print $14 + $15}' "/proc/$S3_PID/stat" 2>/dev/null || echo 0; }

# run LABEL CASE CMD...: time CMD, then print the front's counts.  A cold
# small-object row also says how much CPU the S3 stand-in spent meanwhile:
# it shares the 2 cores with the reader, where a remote store would not,
# and with read-ahead its ~5 ms per signed GET, not the latency, is what
# the wall time waits on (the same row at 0 ms latency takes as long).
run() {
	local label=$1 case=$2 t0 t1 c0 c1
	shift 2
	: >"$S3_LOG"
	c0=$(s3_cpu)
	t0=$(date +%s%N)
	"$@"
	t1=$(date +%s%N)
	c1=$(s3_cpu)
	count "$label" "$case" $(((t1 - t0) / 1000000)) "$S3_LOG"
	case "$label $case" in
	"cold small"*) echo "#   the S3 stand-in's own CPU meanwhile: $(((c1 - c0) * 1000 / $(getconf CLK_TCK))) ms" ;;
	esac
}

# peer LABEL CASE LOG TARGET...: every header of TARGETs read by astropy
# (peer_fsspec.py, bounded), counted in LOG.
peer() {
	local label=$1 case=$2 log=$3 out
	shift 3
	: >"$log"
	if ! out=$(timeout 300 $PY bench/peer_fsspec.py "$@"); then
		echo "# $label $case: peer failed or passed 300 s; counts so far:"
		out="ms=300000"
	fi
	echo "${out% ms=*}" >"$tmp/seen.$label.$case"
	[ "$label" = fsspec ] && echo "$out" | sed -n 's/.*hdr_bytes=\([0-9]*\).*/\1/p' >"$tmp/hdr.$case"
	count "$label" "$case" "${out##*ms=}" "$log"
}

echo "# latency ${LAT} ms per response; $(nproc) CPUs shared; numbers are one run each"
# The small files by name (each object looked up alone) and by a glob
# (one LIST gives every size and ETag).
small=()
for i in $(seq 0 99); do small+=("$mnt/fits/astro/small/f$(printf %05d "$i").fits"); done
glob_small() { all_headers "$mnt"/fits/astro/small/*.fits; }
# astropy itself over the mount (what fitsheader does): one process opens
# each small object's raw file, as the fsspec peer below opens each URL;
# timed the same way (the reads, not interpreter start), cold then warm.
astropy_passes() {
	$PY -c 'import astropy' 2>/dev/null || return 0
	rm -rf "$tmp/cache"
	mount_fs
	peer astropy small-100 "$S3_LOG" "${small[@]/%//raw}"
	peer astropy-w small-100 "$S3_LOG" "${small[@]/%//raw}"
	umount_fs
}
# FITS_ONLY=small: only the cold reads of the 100 small objects (by name,
# then by glob on a fresh cache), for read-ahead work; no peers, no goals.
if [ "${FITS_ONLY:-}" = small ]; then
	for c in small-100 small-glob; do
		rm -rf "$tmp/cache"
		mount_fs
		for pass in cold warm; do
			if [ $c = small-100 ]; then run $pass $c all_headers "${small[@]}"; else run $pass $c glob_small; fi
		done
		echo "# read-ahead jobs: $(jq '.fits.readahead' "$mnt/.astrofs/stats")"
		umount_fs
	done
	astropy_passes
	exit 0
fi
mount_fs
for pass in cold warm; do
	run "$pass" cube all_headers "$mnt/fits/astro/tess/cube.fits"
	[ -n "$hst" ] && run "$pass" hst-7hdu all_headers "$mnt/fits/astro/hst/o4sp040b0_raw.fits"
	run "$pass" hst-like all_headers "$mnt/fits/astro/hstlike/flt.fits"
	run "$pass" small-100 all_headers "${small[@]}"
done
umount_fs
mount_fs
run remount cube all_headers "$mnt/fits/astro/tess/cube.fits"
[ -n "$hst" ] && run remount hst-7hdu all_headers "$mnt/fits/astro/hst/o4sp040b0_raw.fits"
run remount hst-like all_headers "$mnt/fits/astro/hstlike/flt.fits"
run remount small-100 all_headers "${small[@]}"
umount_fs
rm -rf "$tmp/cache"
mount_fs
run cold small-glob glob_small
run warm small-glob glob_small
umount_fs
astropy_passes
# The same cold passes without read-ahead (fits_readahead=0): one round
# trip after another.
rm -rf "$tmp/cache"
MOUNT_EXTRA=fits_readahead=0 mount_fs
run no-ra small-100 all_headers "${small[@]}"
umount_fs
if $PY -c 'import astropy' 2>/dev/null; then
	rm -rf "$tmp/cache"
	MOUNT_EXTRA=fits_readahead=0 mount_fs
	peer astropy-0 small-100 "$S3_LOG" "${small[@]/%//raw}"
	umount_fs
fi
# Warm per-header latency (in-memory state, page cache dropped by re-open).
mount_fs
all_headers "$mnt/fits/astro/tess/cube.fits"
t0=$(date +%s%N)
for _ in $(seq 1 200); do cat "$mnt/fits/astro/tess/cube.fits/headers/2" >/dev/null; done
t1=$(date +%s%N)
cat_us=$(((t1 - t0) / 200000))
# Without process start: 200 x (open, read, close) — every open reaches
# astrofs — and 200 x pread on one open fd.
read -r orc_us pread_us < <($PY - "$mnt/fits/astro/tess/cube.fits/headers/2" <<'PYEOF'
import os, sys, time
p = sys.argv[1]
t0 = time.perf_counter()
for _ in range(200):
    fd = os.open(p, os.O_RDONLY)
    os.read(fd, 1 << 20)
    os.close(fd)
t1 = time.perf_counter()
fd = os.open(p, os.O_RDONLY)
for _ in range(200):
    os.pread(fd, 1 << 20, 0)
t2 = time.perf_counter()
os.close(fd)
print("%d %d" % ((t1 - t0) / 200 * 1e6, (t2 - t1) / 200 * 1e6))
PYEOF
)
echo "warm headers/2 read: cat (incl. process start) ${cat_us} us, open+read+close ${orc_us} us, pread ${pread_us} us each"
umount_fs

# The objects' names, for the peers.
keys=(tess/cube.fits hstlike/flt.fits)
[ -n "$hst" ] && keys+=(hst/o4sp040b0_raw.fits)
small_keys=()
for i in $(seq 0 99); do small_keys+=("small/f$(printf %05d "$i").fits"); done

# Peer 1: astropy + fsspec over HTTP, from the S3 stand-in's own object
# files (symlinked, so the cube stays sparse), with the same latency.
if $PY -c 'import astropy, fsspec, aiohttp' 2>/dev/null; then
	for k in "${keys[@]}" "${small_keys[@]}"; do
		mkdir -p "$(dirname "$tmp/web/$k")"
		ln -s "$tmp/s3/data/astro/$k._S3rver_object" "$tmp/web/$k"
	done
	$PY tests/standin/rangesrv.py "$tmp/web" --log "$tmp/web.log" --latency-ms "$LAT" \
		>"$tmp/web.out" 2>"$tmp/web.err" &
	echo $! >"$tmp/web.pid"
	port=
	for _ in $(seq 1 50); do
		port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/web.out")
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || { cat "$tmp/web.err" >&2; exit 1; }
	web=http://127.0.0.1:$port/files
	peer fsspec cube "$tmp/web.log" "$web/tess/cube.fits"
	[ -n "$hst" ] && peer fsspec hst-7hdu "$tmp/web.log" "$web/hst/o4sp040b0_raw.fits"
	peer fsspec hst-like "$tmp/web.log" "$web/hstlike/flt.fits"
	peer fsspec small-100 "$tmp/web.log" "${small_keys[@]/#/$web/}"
	kill "$(cat "$tmp/web.pid")"
	rm -f "$tmp/web.pid"
else
	echo "# astropy+fsspec column skipped: python3-astropy/python3-fsspec/python3-aiohttp not installed"
fi

# Peer 2: astropy on an s3fs-fuse mount of the same front (one mount,
# each case's objects read once, so every case starts cold).
if command -v s3fs >/dev/null && $PY -c 'import astropy' 2>/dev/null; then
	echo "$S3_AK:$S3_SK" >"$tmp/s3fs.passwd"
	chmod 600 "$tmp/s3fs.passwd"
	mkdir -p "$s3mnt"
	timeout 600 s3fs astro "$s3mnt" -f -o "url=$S3_ENDPOINT,use_path_request_style,sigv4,endpoint=$S3_REGION,passwd_file=$tmp/s3fs.passwd" \
		>"$tmp/s3fs.log" 2>&1 &
	echo $! >"$tmp/s3fs.pid"
	for _ in $(seq 1 100); do mountpoint -q "$s3mnt" && break; sleep 0.1; done
	mountpoint -q "$s3mnt" || { cat "$tmp/s3fs.log" >&2; exit 1; }
	peer s3fs cube "$S3_LOG" "$s3mnt/tess/cube.fits"
	[ -n "$hst" ] && peer s3fs hst-7hdu "$S3_LOG" "$s3mnt/hst/o4sp040b0_raw.fits"
	peer s3fs hst-like "$S3_LOG" "$s3mnt/hstlike/flt.fits"
	peer s3fs small-100 "$S3_LOG" "${small_keys[@]/#/$s3mnt/}"
	fusermount3 -u "$s3mnt"
	for _ in $(seq 1 100); do kill -0 "$(cat "$tmp/s3fs.pid")" 2>/dev/null || break; sleep 0.1; done
	rm -f "$tmp/s3fs.pid"
else
	echo "# s3fs column skipped: Debian's s3fs or python3-astropy not installed"
fi

# Side by side, then the goals of issue 3 from the rows above.
echo
echo "# side by side (wall ms, GET, HEAD, LIST, bytes received by the client)"
for c in cube hst-7hdu hst-like small-100; do
	for l in cold warm remount no-ra astropy astropy-w astropy-0 fsspec s3fs; do
		awk -v c=$c -v l=$l '$1 == c && $2 == l' "$tmp/results"
	done
done
# field: CASE LABEL N -> the Nth number of that row (1 ms, 2 GET, 3 HEAD,
# 4 LIST, 5 bytes); empty when the row is missing.
field() {
	awk -v c="$1" -v l="$2" -v n="$3" '$1 == c && $2 == l { print $(1 + 2 * n) }' "$tmp/results"
}
echo
echo "# goals (issue 3)"
for c in cube hst-7hdu hst-like small-100; do
	ab=$(field $c cold 5); fb=$(field $c fsspec 5)
	if [ -z "$ab" ] || [ -z "$fb" ]; then
		echo "$c: fsspec/astrofs bytes: skipped (a row is missing)"
		continue
	fi
	# The headers' own size bounds any reader: say so when it makes the
	# goal unreachable (e.g. files that are nothing but one header).
	awk -v c=$c -v a="$ab" -v f="$fb" -v hb="$(cat "$tmp/hdr.$c" 2>/dev/null)" 'BEGIN {
		r = a > 0 ? f / a : 0
		note = ""
		if (r < 10 && hb > 0 && f / hb < 10)
			note = sprintf(" (headers alone are %d B: at most %.1fx is possible)", hb, f / hb)
		printf "%s: bytes fsspec/astrofs-cold = %d/%d = %.1fx (goal >= 10x)%s: %s\n", c, f, a, r, note,
			(a == 0 || r >= 10) ? "met" : "missed" }'
	for o in s3fs astropy; do
		if [ -f "$tmp/seen.$o.$c" ] && ! cmp -s "$tmp/seen.fsspec.$c" "$tmp/seen.$o.$c"; then
			echo "$c: WARNING fsspec and $o saw different headers: $(cat "$tmp/seen.fsspec.$c") vs $(cat "$tmp/seen.$o.$c")"
		fi
	done
	art=$(($(field $c cold 2) + $(field $c cold 3) + $(field $c cold 4)))
	frt=$(($(field $c fsspec 2) + $(field $c fsspec 3) + $(field $c fsspec 4)))
	echo "$c: round trips astrofs-cold $art vs fsspec $frt (goal <=): $([ "$art" -le "$frt" ] && echo met || echo missed)"
done
echo "warm header read, open+read+close without process start: ${orc_us} us (goal < 1000 us): $([ "$orc_us" -lt 1000 ] && echo met || echo missed)"
# Issue 14: the cold header read of 100 small objects behind the latency,
# under 0.5 s with no more GETs than objects.  The cat loop's figure counts
# 100 process starts (about 125 ms here, the warm row shows them); astropy
# over the mount is timed as the fsspec peer is.
for l in cold astropy; do
	ms=$(field small-100 $l 1); g=$(field small-100 $l 2)
	[ -n "$ms" ] || continue
	what=$([ $l = cold ] && echo "cat loop" || echo "astropy over raw")
	echo "small-100 cold, $what: ${ms} ms, ${g} GET (goal < 500 ms, GET <= 100): $([ "$ms" -lt 500 ] && [ "$g" -le 100 ] && echo met || echo missed)"
done
