#!/usr/bin/env bats
# /telemetry .npy files through a real mount, read with Debian's NumPy:
# every form (whole, 5min, daily, one day, ranges) equals its CSV bit for bit
# for float, integer and state MSIDs, st_size is exact, numpy.load maps it,
# and an open file keeps its snapshot while ingest commits.

load lib

PY=/usr/bin/python3
CHECK=$ROOT/tests/oracles/npy_check.py

setup() {
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	[ -x "$ROOT/build/astrofs-ingest" ] || skip "build/astrofs-ingest is not built"
	$PY -c 'import numpy' 2>/dev/null || skip "python3-numpy is not installed"
	astro_tmp
	mkdir -p "$T/cache"
}

teardown() {
	cd /	# out of the mount, so it can be unmounted
	[ -n "${PID:-}" ] && kill -9 "$PID" 2>/dev/null || true
	cleanup_all
}

mount_tlm() {
	astrofs_start "cache_dir=$T/cache,archive_dir=$T/archive"
}

# Float (with awkward doubles), integer (beyond 2^53) and state MSIDs over three
# UTC days, some quality-bad samples, and a BAD_TIMES interval.
fixture() {
	$PY - "$T/in.csv" <<'PY'
import random, sys
r = random.Random(16)
states = ['NPNT', 'NMAN', 'a,b "q" é', 'X']
with open(sys.argv[1], 'w') as f:
    f.write('msid,time,value,quality\n')
    for i in range(3000):
        s = 86400 * 3 * i / 3000.0
        day, rem = 1 + int(s // 86400), s % 86400
        t = '2024:%03d:%02d:%02d:%06.3f' % (day, rem // 3600, rem % 3600 // 60, rem % 60)
        v = r.choice([repr(r.uniform(-1, 1) * 10 ** r.randint(-300, 300)), '-0.209546387', '0.1', '1e-300'])
        f.write('TFLOAT,%s,%s,%d\n' % (t, v, 1 if i % 97 == 0 else 0))
        f.write('TINT,%s,%d,0\n' % (t, r.choice([r.randint(-10**18 + 1, 10**18 - 1), r.randint(-5, 5)])))
        f.write('TSTATE,%s,"%s",0\n' % (t, r.choice(states).replace('"', '""')))
PY
	printf 'TFLOAT 2024:002:00:00:00 2024:002:01:00:00\n' >"$T/bad_times"
	"$ROOT/build/astrofs-ingest" --quiet --create --archive "$T/archive" "$T/in.csv"
	"$ROOT/build/astrofs-ingest" --quiet --archive "$T/archive" --bad-times "$T/bad_times"
}

@test "npy: every form equals its CSV bit for bit (float, int, state)" {
	fixture
	mount_tlm
	cd "$T/mnt/telemetry"
	ls | grep -qx TFLOAT.npy
	ls | grep -qx TSTATE.daily.npy
	ls TINT/2024 | grep -qx 002.npy
	files=()
	for m in TFLOAT TINT TSTATE tint; do
		files+=("$m.npy" "$m.5min.npy" "$m.daily.npy" "$m/2024/002.npy"
			"$m@2024:001:12:00..2024:003.npy" "$m@2024:001:12:00..2024:003.5min.npy"
			"$m@2024:002..2024:004.daily.npy" "$m@2030:001..2030:002.npy")
	done
	run $PY "$CHECK" "${files[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	# the types are the archive's: floats <f8, integers <i8, states fixed-width bytes
	run $PY -c '
import numpy as np
f, i, s = (np.load(n + ".npy", mmap_mode="r") for n in ("TFLOAT", "TINT", "TSTATE"))
assert f.dtype["value"] == np.dtype("<f8") and i.dtype["value"] == np.dtype("<i8"), (f.dtype, i.dtype)
assert s.dtype["value"].kind == "S", s.dtype
assert len(f) == 3000 - 31 - 126 + 1 or len(f) > 2800, len(f)
assert abs(i["value"]).max() > 2**53
print(len(f), len(i), len(s))'
	echo "$output"
	[ "$status" -eq 0 ]
	# an empty range is a valid, empty array
	[ "$($PY -c 'import numpy as np; print(np.load("TFLOAT@2030:001..2030:002.npy").shape)')" = "(0,)" ]
}

@test "npy: the JWST fixtures load and equal their CSVs" {
	[ -d "$SHARED/data/telemetry/jwst_edb/engdb_2021_groundtest" ] || skip "../shared/data/telemetry is not present"
	"$ROOT/build/astrofs-ingest" --quiet --create --archive "$T/archive" \
		"$SHARED"/data/telemetry/jwst_edb/engdb_2021_groundtest/*.json
	mount_tlm
	cd "$T/mnt/telemetry"
	run $PY "$CHECK" SA_ZATTEST1.npy SA_ZATTEST1.5min.npy SA_ZATTEST1.daily.npy
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "npy: an open .npy keeps its snapshot while ingest commits and runs" {
	printf 'msid,time,value\nSNAP,2024:001:00:00:00,1.5\nSNAP,2024:001:00:01:00,2.5\n' >"$T/a.csv"
	printf 'msid,time,value\nSNAP,2024:001:00:02:00,3.5\n' >"$T/b.csv"
	"$ROOT/build/astrofs-ingest" --quiet --create --archive "$T/archive" "$T/a.csv"
	# a long ingest that commits SNAP rows while the loop below reads
	awk 'BEGIN { print "msid,time,value"; for (i = 0; i < 1500000; i++) printf "SNAP,secs:%d,%d.25\n", 900000000 + i, i % 1000 }' >"$T/big.csv"
	mount_tlm
	f=$T/mnt/telemetry/SNAP.npy
	run $PY - "$f" "$ROOT/build/astrofs-ingest" "$T/archive" "$T/b.csv" <<'PY'
import io, os, subprocess, sys
import numpy as np
path, ingest, arc, b = sys.argv[1:]
with open(path, 'rb') as fh:
    size = os.fstat(fh.fileno()).st_size
    subprocess.run([ingest, '--quiet', '--archive', arc, b], check=True)
    data = fh.read()
assert len(data) == size, (len(data), size)
old = np.load(io.BytesIO(data))
assert old['value'].tolist() == [1.5, 2.5], old
PY
	echo "$output"
	[ "$status" -eq 0 ]
	sleep 1.2	# kernel attribute cache
	[ "$($PY -c "import numpy as np; print(np.load('$f')['value'].tolist())")" = "[1.5, 2.5, 3.5]" ]
	"$ROOT/build/astrofs-ingest" --quiet --archive "$T/archive" "$T/big.csv" &
	PID=$!
	# every load while the ingest runs is whole: three rows or all of them
	run $PY - "$f" "$PID" <<'PY'
import io, os, sys, time
import numpy as np
path, pid = sys.argv[1], int(sys.argv[2])
seen = set()
for _ in range(400):
    # the bytes of one open: a header and exactly its rows, nothing after
    with open(path, 'rb') as fh:
        data = fh.read()
    bio = io.BytesIO(data)
    a = np.load(bio)
    assert bio.tell() == len(data), (bio.tell(), len(data))
    assert len(a) in (3, 1500003), len(a)
    assert a['value'][:3].tolist() == [1.5, 2.5, 3.5]
    seen.add(len(a))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        if 1500003 in seen:
            break
    time.sleep(0.05)
print(sorted(seen))
assert 3 in seen
PY
	echo "$output"
	[ "$status" -eq 0 ]
	wait "$PID"
	PID=
}
