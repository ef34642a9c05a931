#!/bin/bash
# /telemetry for Python users: a year of a 1 Hz MSID into NumPy arrays, side by
# side in one run —
#   numpy.load of <MSID>.npy through the mount (first open renders; then the
#     page cache), and with mmap_mode='r' summed,
#   pandas.read_csv of <MSID>.csv through the mount (secs,value columns, the
#     text already in the page cache, so only parsing counts),
#   h5py reading the same two arrays from a local HDF5 file, as cheta stores
#     them (zlib level 5) and uncompressed,
# printed as ratios, with the ingest's rate and peak RSS.
#
#   bench/telemetry_npy.sh        (TLM_BENCH_SAMPLES=N for another count)
#
# Goals (issue 16): np.load via the mount <= 1.5x the local HDF5 read and
# >= 20x faster than pandas.read_csv of the CSV.  Medians of RUNS runs;
# nothing fails on a number.  Needs Debian's python3-numpy, -pandas, -h5py.
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
N=${TLM_BENCH_SAMPLES:-$((366 * 86400))}
MSID=NPY1HZ
PY=/usr/bin/python3

. bench/tlm_common.bash
tlm_bench_begin telemetry_npy


command -v fusermount3 >/dev/null && [ -c /dev/fuse ] || { echo "  skipped: FUSE is not available"; exit 0; }
$PY -c 'import numpy, pandas, h5py' 2>/dev/null ||
	{ echo "  skipped: needs python3-numpy, python3-pandas and python3-h5py"; exit 0; }
make -s build/astrofs build/astrofs-ingest build/astrofs-tlm-gen || die "build failed"
tlm_bench_fit

build/astrofs-tlm-gen --msid "$MSID" --start 2024:001 --count "$N" -o "$B/in.csv" || die "generator failed"
in_bytes=$(stat -c %s "$B/in.csv")
t0=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$B/ingest.rss" build/astrofs-ingest --quiet --create --archive "$B/arc" "$B/in.csv" ||
	die "ingest failed"
ing_s=$(calc "$(date +%s.%N) - $t0")
rss=$(($(cat "$B/ingest.rss") / 1024))
printf '  ingest              %d samples, %.0f MB CSV: %.1f s = %.2f M samples/s (%s), peak RSS %d MB = %.2fx the input (%s)\n' \
	"$N" "$(calc "$in_bytes / 1000000")" "$ing_s" "$(calc "$N / $ing_s / 1000000")" \
	"$(goal '>= 2 M/s' "$(calc "$N / $ing_s >= 2000000")")" "$rss" "$(calc "$rss * 1048576 / $in_bytes")" \
	"$(goal '< 300 MB' "$([ "$rss" -lt 300 ] && echo 1 || echo 0)")"
rm -f "$B/in.csv"

tlm_bench_mount npybench

$PY - "$B/mnt/telemetry/$MSID" "$B/local.h5" "$RUNS" <<'PY' || die "python side failed"
import statistics, sys, time
import h5py, numpy as np, pandas as pd

base, h5, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])

def timed(fn):
    t0 = time.perf_counter(); r = fn(); return time.perf_counter() - t0, r

def med(fn):
    return statistics.median(timed(fn)[0] for _ in range(runs))

cold, a = timed(lambda: np.load(base + '.npy'))
secs, value = np.ascontiguousarray(a['secs']), np.ascontiguousarray(a['value'])
with h5py.File(h5, 'w') as f:
    for name, arr in (('secs', secs), ('value', value)):
        f.create_dataset(name, data=arr, compression='gzip', compression_opts=5, chunks=True)
        f.create_dataset(name + '_raw', data=arr)

def h5read(sfx):
    with h5py.File(h5, 'r') as f:
        return f['secs' + sfx][:], f['value' + sfx][:]

npy = med(lambda: np.load(base + '.npy'))
npy_mm = med(lambda: float(np.load(base + '.npy', mmap_mode='r')['value'].sum()))
h5z = med(lambda: h5read(''))
h5raw = med(lambda: h5read('_raw'))
open(base + '.csv', 'rb').read()     # the CSV text into the page cache: parsing alone counts
pdt, df = timed(lambda: pd.read_csv(base + '.csv', usecols=['secs', 'value']))
assert len(df) == len(a) and np.array_equal(df['value'].to_numpy(), value), 'pandas and npy disagree'
n = len(a)
print('  %d rows into NumPy arrays (secs, value); medians of %d:' % (n, runs))
print('    np.load via mount   %7.3f s  (first open, rendering: %.3f s)' % (npy, cold))
print('    np.load mmap + sum  %7.3f s' % npy_mm)
print('    h5py local, zlib 5  %7.3f s  (cheta\'s storage)   np.load/h5py = %.2fx  %s' % (
    h5z, npy / h5z, 'goal met (<= 1.5x)' if npy <= 1.5 * h5z else 'GOAL NOT MET (<= 1.5x)'))
print('    h5py local, raw     %7.3f s                      np.load/h5py raw = %.2fx' % (h5raw, npy / h5raw))
print('    pandas.read_csv     %7.3f s  (one run)            read_csv/np.load = %.1fx  %s' % (
    pdt, pdt / npy, 'goal met (>= 20x)' if pdt >= 20 * npy else 'GOAL NOT MET (>= 20x)'))
PY
