#!/usr/bin/env bats
# astrofs-obssim against a temporary local store, driven through its CLI
# modes (--enqueue/--show/--images), no mount.  Every loop is bounded and
# every process started here is killed in teardown.

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
SIM=${ASTRO_BUILD:-$ROOT/build}/astrofs-obssim
CONF=$ROOT/tests/data/obs/sites_good.yml
source "$ROOT/tests/lib/obs_sim.bash"

setup() {
	[ -x "$SIM" ] || skip "build/astrofs-obssim is not built"
	T=$(mktemp -d /tmp/astro-obs-bats-XXXXXX)
	STORE=$T/store
	SIM_STORE=(--store "$STORE")
	SIM_PID=
}

teardown() {
	stop_sim
	rm -rf "$T"
}

@test "obssim: expose -> COMPLETE, a FITS image and its JPEG preview are listed" {
	start_sim --time-scale 0.05
	id=$(enqueue site1 'expose 1')
	[ -n "$id" ]
	wait_state site1 "$id" COMPLETE
	run "$SIM" --store "$STORE" --images site1
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	name=$(echo "${lines[0]}" | cut -f1)
	[[ "$name" =~ ^[0-9]+_site1_testimage_1s_no1\.fits$ ]]
	[ "$(echo "${lines[1]}" | cut -f1)" = "${name%.fits}.jpg" ]
	# The job names the image it made: the FITS.
	"$SIM" --store "$STORE" --show site1 "$id" | grep -q "\"image\": \"$name\""
	[ "$(head -c 9 "$STORE/images/site1/$name")" = "SIMPLE  =" ]
	f=$STORE/images/site1/${name%.fits}.jpg
	[ "$(head -c 2 "$f" | od -An -tx1 | tr -d ' \n')" = ffd8 ]
	[ "$(tail -c 2 "$f" | od -An -tx1 | tr -d ' \n')" = ffd9 ]
	if command -v file >/dev/null; then
		file "$f" | grep -q 'JPEG image data'
	fi
	# The status names it only now that it is stored.
	for _ in $(seq 1 50); do
		"$SIM" --store "$STORE" --status site1 | grep -q "\"cam1_last_image_name\":\"$name\"" && break
		sleep 0.1
	done
	"$SIM" --store "$STORE" --status site1 | grep -q "\"cam1_last_image_name\":\"$name\""
}

@test "obssim: the FITS opens in astropy with a WCS that maps the pointing to the centre" {
	/usr/bin/python3 -c 'import astropy.wcs' 2>/dev/null || skip "python3-astropy is not installed"
	start_sim --time-scale 0
	ids=$(enqueue site1 unpark 'goto ra=5:35:17 dec=-5:23:28' 'expose 3')
	id=$(echo "$ids" | tail -1)
	wait_state site1 "$id" COMPLETE
	name=$("$SIM" --store "$STORE" --images site1 | cut -f1 | grep '\.fits$')
	/usr/bin/python3 - "$STORE/images/site1/$name" <<'PY'
import sys, warnings
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from astropy.coordinates import SkyCoord
import astropy.units as u
warnings.simplefilter("ignore")
with fits.open(sys.argv[1], checksum=True) as h:
    hdr, data = h[0].header, h[0].data
    w = WCS(hdr)
    assert w.has_celestial and w.wcs.ctype[0] == "RA---TAN", w.wcs.ctype
    want = SkyCoord("5h35m17s", "-5d23m28s", frame="icrs")
    x, y = w.world_to_pixel(want)
    ny, nx = data.shape
    assert abs(x - (nx - 1) / 2) < 0.01 and abs(y - (ny - 1) / 2) < 0.01, (x, y, nx, ny)
    # Every pointing keyword agrees with the goto.
    assert SkyCoord(hdr["RA"] * u.deg, hdr["DEC"] * u.deg).separation(want).arcsec < 1
    obj = SkyCoord(hdr["OBJCTRA"], hdr["OBJCTDEC"], unit=(u.hourangle, u.deg))
    assert obj.separation(want).arcsec < 1, (hdr["OBJCTRA"], hdr["OBJCTDEC"])
    assert hdr["EXPTIME"] == 3.0 and hdr["DATE-OBS"].startswith("20")
    assert "SITELAT" in hdr and "SITELONG" in hdr
    # A field of stars: bright pixels well above the sky.
    med = np.median(data)
    assert (data > med + 500).sum() > 50, (data > med + 500).sum()
PY
}

@test "obssim: goto while parked is REJECTED with a reason; after unpark it completes" {
	start_sim --time-scale 0
	id=$(enqueue site1 'goto ra=5.5 dec=-5.4')
	wait_state site1 "$id" REJECTED
	"$SIM" --store "$STORE" --show site1 "$id" | grep -q '"message": "mount parked"'
	ids=$(enqueue site1 unpark 'goto ra=05:30:00 dec=-05:24:00')
	wait_state site1 "$(echo "$ids" | tail -1)" COMPLETE
	for _ in $(seq 1 50); do
		"$SIM" --store "$STORE" --status site1 | grep -q '"mnt1_ra":"5.500000"' && break
		sleep 0.1
	done
	"$SIM" --store "$STORE" --status site1 | grep -q '"mnt1_dec":"-5.400000"'
}

@test "obssim: a bad line queues nothing and says which line" {
	run "$SIM" --store "$STORE" --enqueue site1 park 'goto ra=24 dec=0'
	[ "$status" -eq 1 ]
	[ "$output" = "err line 2: goto: ra '24' not in hours [0,24)" ]
	start_sim --time-scale 0
	sleep 1
	run "$SIM" --store "$STORE" --images site1
	[ -z "$output" ]
}

@test "obssim: cancel of a queued job; the site never runs it" {
	# Queued while no simulator runs.
	id=$(enqueue site1 'expose 2')
	cid=$(enqueue site1 "cancel $id")
	[ "$(state_of site1 "$id")" = CANCELED ]
	[ "$(state_of site1 "$cid")" = COMPLETE ]
	run "$SIM" --store "$STORE" --enqueue site1 "cancel $id"
	[ "$status" -eq 1 ]
	[[ "$output" == *"already CANCELED"* ]]
	start_sim --time-scale 0
	later=$(enqueue site1 park)
	wait_state site1 "$later" COMPLETE
	[ "$(state_of site1 "$id")" = CANCELED ]
	[ -z "$("$SIM" --store "$STORE" --images site1)" ]
}

@test "obssim: stop preempts a running exposure" {
	start_sim --time-scale 1
	id=$(enqueue site1 'expose 600')
	wait_state site1 "$id" STARTED
	sid=$(enqueue site1 stop)
	wait_state site1 "$id" CANCELED
	wait_state site1 "$sid" COMPLETE
	"$SIM" --store "$STORE" --show site1 "$id" | grep -q "stopped by $sid"
}

@test "obssim: kill -9 and restart loses no queued command and reuses no image name" {
	start_sim --time-scale 0
	first=$(enqueue site1 'expose 1')
	wait_state site1 "$first" COMPLETE
	stop_sim
	start_sim --time-scale 1
	long=$(enqueue site1 'expose 600')
	wait_state site1 "$long" STARTED
	queued=$(enqueue site1 'expose 0.1' park 'expose 0.2')
	[ "$(echo "$queued" | wc -l)" -eq 3 ]
	stop_sim KILL
	# While it is down, more arrive.
	more=$(enqueue site1 'expose 0.3')
	start_sim --time-scale 0
	for id in $queued $more; do
		wait_state site1 "$id" COMPLETE
	done
	# The exposure it was killed in is reported, not silently lost.
	[ "$(state_of site1 "$long")" = FAILED ]
	# Each exposure is a FITS and its preview.
	run "$SIM" --store "$STORE" --images site1
	[ "$status" -eq 0 ]
	mapfile -t lines < <(printf '%s\n' "${lines[@]}" | grep '\.fits	')
	[ "${#lines[@]}" -eq 4 ]
	names=$(printf '%s\n' "${lines[@]}" | cut -f1)
	[ "$(echo "$names" | sort -u | wc -l)" -eq 4 ]
	# The counter went on across the restarts: 1..4, no repeats.
	[ "$(printf '%s\n' "${lines[@]}" | cut -f3 | sort -n | tr '\n' ' ')" = "1 2 3 4 " ]
	for n in $names; do
		[ "$(head -c 9 "$STORE/images/site1/$n")" = "SIMPLE  =" ]
		[ "$(head -c 2 "$STORE/images/site1/${n%.fits}.jpg" | od -An -tx1 | tr -d ' \n')" = ffd8 ]
	done
}

@test "obssim: a command no site takes within its retention EXPIRES instead of running" {
	id=$("$SIM" --store "$STORE" --retention 1 --enqueue site1 park | awk '{print $2}')
	[ "$(state_of site1 "$id")" = QUEUED ]
	sleep 2
	start_sim --time-scale 0
	later=$(enqueue site1 unpark)
	wait_state site1 "$later" COMPLETE
	[ "$(state_of site1 "$id")" = EXPIRED ]
	"$SIM" --store "$STORE" --show site1 "$id" | grep -q 'not received within retention'
}

@test "obssim: --fail-rate 1 fails every command with a reason and keeps going" {
	start_sim --time-scale 0 --fail-rate 1
	ids=$(enqueue site1 unpark park)
	for id in $ids; do
		wait_state site1 "$id" FAILED
		"$SIM" --store "$STORE" --show site1 "$id" | grep -q 'simulated failure'
	done
}

@test "obssim: --pause-status publishes nothing; --clock-skew shifts the site clock" {
	start_sim --time-scale 0 --pause-status
	id=$(enqueue site1 unpark)
	wait_state site1 "$id" COMPLETE
	run "$SIM" --store "$STORE" --status site1
	[ "$status" -ne 0 ]
	stop_sim
	start_sim --time-scale 0 --clock-skew -3600
	for _ in $(seq 1 50); do
		"$SIM" --store "$STORE" --status site1 >/dev/null 2>&1 && break
		sleep 0.1
	done
	ts=$("$SIM" --store "$STORE" --status site1 | sed -n 's/.*"timestamp":"\([0-9]*\)".*/\1/p')
	now=$(date +%s)
	[ $((now - ts)) -ge 3590 ]
	[ $((now - ts)) -le 3700 ]
}

@test "obssim: a malformed message is REJECTED with the reason and the site goes on" {
	command -v mdb_load >/dev/null || skip "mdb_load (lmdb-utils) not installed"
	# Written behind the store API's back, as another writer might.
	"$SIM" --store "$STORE" --images site1 >/dev/null	# creates the store
	now=$(($(date +%s) * 1000))
	bad=01ARYZ6S410000000000000000
	junk=01ARYZ6S410000000000000001
	printf 'site1/%s\n{"id":"%s","site":"site1","line":"launch missiles","state":"QUEUED","created_ms":%s,"expires_ms":%s,"history":[],"result":{}}\nsite1/%s\nnot json at all\n' \
		$bad $bad $now $((now + 900000)) $junk | mdb_load -T -s jobs "$STORE/db"
	printf 'site1/1/%s\n\nsite1/1/%s\n\n' $bad $junk | mdb_load -T -s queue "$STORE/db"
	start_sim --time-scale 0
	id=$(enqueue site1 unpark)
	wait_state site1 "$bad" REJECTED
	"$SIM" --store "$STORE" --show site1 "$bad" | grep -q "unknown command 'launch'"
	wait_state site1 "$id" COMPLETE
	grep -q "has no readable record" "$T/sim.log"
}
