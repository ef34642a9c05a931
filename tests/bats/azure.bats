#!/usr/bin/env bats
# /fits over Azure Blob containers (fits_azure) against Azurite, Microsoft's
# own Azure Storage emulator, which verifies Shared Key and SAS signatures
# (tests/standin/azurite).  The containers are loaded with Microsoft's SDK
# (Debian's python3-azure, tests/standin/azurite/azload.py); expected bytes
# come from the corpus files and ../shared/data/fits/groundtruth.json, or
# from astropy for a file it writes here.

load lib

PY=/usr/bin/python3	# Debian's: python3-azure and astropy

setup_file() {
	cd "$BATS_TEST_DIRNAME/../.."
	export AZ_SKIP=
	if [ ! -d "$SHARED/data/fits" ]; then
		export AZ_SKIP="../shared/data/fits is not present"
		return 0
	fi
	if ! "$PY" -c 'import azure.storage.blob, astropy' 2>/dev/null; then
		export AZ_SKIP="python3-azure or python3-astropy is not installed"
		return 0
	fi
	export AZSTATE="$BATS_FILE_TMPDIR/azurite"
	local rc=0
	tests/standin/azurite/azurite.sh start "$AZSTATE" || rc=$?
	if [ "$rc" -eq 77 ]; then
		export AZ_SKIP="node or the azurite npm dependency is unavailable"
		return 0
	fi
	[ "$rc" -eq 0 ]
	local load="$PY tests/standin/azurite/azload.py $AZSTATE/env"
	$load container priv
	$load container pub public
	$load container paged
	$load tree priv d "$SHARED/data/fits"
	$load put pub hst/raw.fits "$SHARED/data/fits/astropy/o4sp040b0_raw.fits"
	# Names that need percent-encoding in the signed path.
	local n
	for n in "odd/a b.fits" "odd/p+q.fits" "odd/ü()~=.fits" "odd/dir x/y%z.fits" "odd/s;c,m.fits"; do
		$load put priv "$n" "$SHARED/data/fits/astropy/o4sp040b0_raw.fits"
	done
	# A multi-extension file astropy writes: odd data sizes, so HDUs start
	# at padded offsets; > 1 MiB, so raw reads span read-ahead windows.
	"$PY" - "$BATS_FILE_TMPDIR/mef.fits" <<'EOF'
import sys
import numpy as np
from astropy.io import fits
hdus = [fits.PrimaryHDU(header=fits.Header([("OBSERVER", "azure.bats")])),
        fits.ImageHDU(np.arange(701 * 399, dtype=">f4").reshape(701, 399), name="SCI"),
        fits.ImageHDU(np.arange(17, dtype=">i2"), name="DQ"),
        fits.BinTableHDU.from_columns([fits.Column(name="T", format="D", array=np.arange(5.0))],
                                      name="TAB")]
fits.HDUList(hdus).writeto(sys.argv[1])
EOF
	$load put priv made/mef.fits "$BATS_FILE_TMPDIR/mef.fits"
	$load many paged k 2500
}

teardown_file() {
	[ -n "${AZSTATE:-}" ] && tests/standin/azurite/azurite.sh stop "$AZSTATE"
	return 0
}

setup() {
	[ -z "$AZ_SKIP" ] || skip "$AZ_SKIP"
	require_fuse
	[ -x "$ASTROFS" ] || skip "build/astrofs is not built"
	astro_tmp
	# shellcheck disable=SC1091
	source "$AZSTATE/env"
	mkdir -p "$T/cache"
	M=$T/mnt/fits
}

teardown() {
	unmount_astrofs
	[ -n "${T:-}" ] && rm -rf "$T"
	unset T
}

# creds LINE...: the fits_azure_credentials file, mode 0600.
creds() {
	printf '%s\n' "$@" >"$T/creds"
	chmod 600 "$T/creds"
}

# az_mount SOURCES [extra options]: mount with fits_azure=SOURCES.
az_mount() {
	astrofs_start "cache_dir=$T/cache,archive_dir=$T/archive,obs_store=$T/obs,s3_anonymous,timeout=10,fits_azure=$1,fits_azure_credentials=$T/creds${2:+,$2}"
}

@test "azure: shared key: every corpus file byte-exact (headers/N, hdus.csv, raw sha256)" {
	creds "priv.key = $AZ_KEY"
	az_mount "priv=$AZ_URL/priv"
	[ "$(ls "$M")" = priv ]
	run "$PY" tests/oracles/check_corpus.py "$M/priv/d" "$SHARED/data/fits"
	echo "$output" | tail -3
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 failures"* ]]
	# The key never reaches the log.
	! grep -qF "$AZ_KEY" "$T/astrofs.log"
}

@test "azure: an astropy-written file: headers and hdus.csv at astropy's offsets, raw ranges byte-exact" {
	creds "priv.key = $AZ_KEY"
	az_mount "priv=$AZ_URL/priv"
	O=$M/priv/made/mef.fits
	F=$BATS_FILE_TMPDIR/mef.fits
	[ "$(ls "$O/headers" | wc -l)" -eq 4 ]
	"$PY" - "$F" "$O" <<'EOF'
import csv, sys
from astropy.io import fits
f, o = sys.argv[1], sys.argv[2]
raw = open(f, "rb").read()
rows = list(csv.DictReader(open(o + "/hdus.csv")))
with fits.open(f) as h:
    assert len(rows) == len(h), (len(rows), len(h))
    for i, hdu in enumerate(h):
        info = h.fileinfo(i)
        hdr = raw[info["hdrLoc"]:info["datLoc"]]
        end = next(k for k in range(0, len(hdr), 80) if hdr[k:k + 8] == b"END     ")
        want = b"".join(hdr[k:k + 80] + b"\n" for k in range(0, end + 80, 80))
        got = open("%s/headers/%d" % (o, i), "rb").read()
        assert got == want, i
        r = rows[i]
        assert int(r["header_offset"]) == info["hdrLoc"], (i, r)
        assert int(r["data_offset"]) == info["datLoc"], (i, r)
        hd = hdu.header
        n = 0 if hd["NAXIS"] == 0 else hd.get("PCOUNT", 0) + \
            __import__("math").prod(hd["NAXIS%d" % k] for k in range(1, hd["NAXIS"] + 1))
        assert int(r["data_bytes"]) == abs(hd["BITPIX"]) // 8 * hd.get("GCOUNT", 1) * n, (i, r)
        assert r["extname"] == (hdu.name if i else ""), (i, r)
print("ok")
EOF
	size=$(stat -c %s "$F")
	[ "$(stat -c %s "$O/raw")" -eq "$size" ]
	# Ranges: unaligned, across a 2880 block, across the 1 MiB read-ahead
	# window, and the last bytes; each compared with the file's own bytes.
	for r in 0:100 2879:2 5000:70000 1048000:2000 $((size - 10)):10 $((size - 3000)):5000; do
		off=${r%%:*}; len=${r##*:}
		cmp <(tail -c +$((off + 1)) "$O/raw" | head -c "$len") \
		    <(tail -c +$((off + 1)) "$F" | head -c "$len")
	done
	cmp "$O/raw" "$F"
}

@test "azure: 2,500 blobs list whole, in marker pages of 1000" {
	creds "paged.key = $AZ_KEY"
	az_mount "paged=$AZ_URL/paged"
	ls "$M/paged" >"$T/ls"
	[ "$(wc -l <"$T/ls")" -eq 2500 ]
	[ "$(sort -u "$T/ls" | wc -l)" -eq 2500 ]
	[ "$(head -1 "$T/ls")" = k00000.fits ]
	[ "$(tail -1 "$T/ls")" = k02499.fits ]
	jq -e '.fits.list_pages == 3' "$T/mnt/.astrofs/stats"
	grep -q "^OBJECT  = 'blob02499'" "$M/paged/k02499.fits/headers/0"
}

@test "azure: SAS from the credentials file or the URL; masked in /.astrofs/config and the command line, never logged" {
	sas=$("$PY" tests/standin/azurite/azload.py "$AZSTATE/env" sas priv)
	sig=$(sed -n 's/.*sig=\([^&]*\).*/\1/p' <<<"$sas")
	[ -n "$sig" ]
	creds "file.sas = $sas"
	az_mount "file=$AZ_URL/priv;url=$AZ_URL/priv?$sas"
	for s in file url; do
		[ "$(head -1 "$M/$s/d/astropy/o4sp040b0_raw.fits/hdus.csv")" = \
		  index,xtension,extname,extver,bitpix,naxis,header_offset,header_bytes,data_offset,data_bytes ]
		ls "$M/$s/d" | grep -qx astropy
	done
	grep '^fits_azure = ' "$T/mnt/.astrofs/config" | grep -qF 'sig=********'
	! grep -qF "$sig" "$T/mnt/.astrofs/config"
	! grep -qF "$sig" "$T/astrofs.log"
	# Nor does the command line other users can read keep it (-o masked).
	! tr '\0' ' ' <"/proc/$(cat "$T/astrofs.pid")/cmdline" | grep -qF "$sig"
	tr '\0' ' ' <"/proc/$(cat "$T/astrofs.pid")/cmdline" | grep -qF 'sig=********'
}

@test "azure: names with spaces, '+', '%', UTF-8 and punctuation, under a key and a SAS" {
	sas=$("$PY" tests/standin/azurite/azload.py "$AZSTATE/env" sas priv)
	creds "key.key = $AZ_KEY" "sas.sas = $sas"
	az_mount "key=$AZ_URL/priv;sas=$AZ_URL/priv" fits_ttl=0
	for s in key sas; do
		[ "$(ls "$M/$s/odd" | tr '\n' '|')" = "a b.fits|dir x|p+q.fits|s;c,m.fits|ü()~=.fits|" ]
		[ "$(ls "$M/$s/odd/dir x")" = "y%z.fits" ]
		for n in "a b.fits" "p+q.fits" "ü()~=.fits" "dir x/y%z.fits" "s;c,m.fits"; do
			cmp "$M/$s/odd/$n/raw" "$SHARED/data/fits/astropy/o4sp040b0_raw.fits"
			grep -q "^XTENSION= 'IMAGE   '" "$M/$s/odd/$n/headers/1"
		done
	done
}

@test "azure: anonymous reads a public container; a private one gives EACCES" {
	creds "# no entries: every source anonymous"
	az_mount "pub=$AZ_URL/pub;priv=$AZ_URL/priv"
	[ "$(ls "$M/pub/hst")" = raw.fits ]
	cmp "$M/pub/hst/raw.fits/raw" "$SHARED/data/fits/astropy/o4sp040b0_raw.fits"
	run ls "$M/priv/d"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	run cat "$M/priv/d/astropy/o4sp040b0_raw.fits/headers/0"
	[[ "$output" == *"Permission denied"* ]]
}

@test "azure: a wrong key is EACCES with the cause logged; a missing blob or container is ENOENT" {
	bad=$(head -c 64 /dev/urandom | base64 -w0)
	creds "bad.key = $bad" "priv.key = $AZ_KEY" "gone.key = $AZ_KEY"
	az_mount "bad=$AZ_URL/priv;priv=$AZ_URL/priv;gone=$AZ_URL/nosuchcontainer"
	run ls "$M/bad/d"
	[[ "$output" == *"Permission denied"* ]]
	run cat "$M/bad/d/astropy/o4sp040b0_raw.fits/hdus.csv"
	[[ "$output" == *"Permission denied"* ]]
	grep -qE 'azure: .*HTTP 403 (AuthenticationFailed|AuthorizationFailure)' "$T/astrofs.log"
	! grep -qF "$bad" "$T/astrofs.log"
	run cat "$M/priv/d/nosuch.fits/headers/0"
	[[ "$output" == *"No such file or directory"* ]]
	run ls "$M/priv/nosuchdir"
	[[ "$output" == *"No such file or directory"* ]]
	run ls "$M/gone/d"
	[[ "$output" == *"No such file or directory"* ]]
	run cat "$M/gone/x.fits/hdus.csv"
	[[ "$output" == *"No such file or directory"* ]]
	# Names from the configuration are listed; the daemon still answers.
	[ "$(ls "$M" | tr '\n' ' ')" = "bad gone priv " ]
}

@test "azure: a remount serves walked headers from the cache after one HEAD, no GET; a wrong key is still EACCES" {
	creds "priv.key = $AZ_KEY"
	az_mount "priv=$AZ_URL/priv"
	O=d/astropy/o4sp040b0_raw.fits
	cat "$M/priv/$O/headers/"* >"$T/h"
	jq -e '.fits.gets >= 1' "$T/mnt/.astrofs/stats"
	unmount_astrofs
	az_mount "priv=$AZ_URL/priv"
	cmp <(cat "$M/priv/$O/headers/"*) "$T/h"
	# Walked here before: one HEAD confirms the version (Get Blob
	# Properties), the walk comes from LMDB.
	jq -e '(.fits.gets // 0) == 0 and .fits.heads == 1 and .fits.walk_cache_hits >= 1' \
		"$T/mnt/.astrofs/stats" || { jq .fits "$T/mnt/.astrofs/stats"; false; }
	unmount_astrofs
	# The cache does not stand in for the authorisation: the listing
	# that finds the object is refused.
	creds "priv.key = $(head -c 64 /dev/urandom | base64 -w0)"
	az_mount "priv=$AZ_URL/priv"
	run cat "$M/priv/$O/headers/1"
	[[ "$output" == *"Permission denied"* ]]
}

# key_hits CORE: occurrences of the account key in CORE, as base64 text or
# as the 64 decoded bytes the signer uses.
key_hits() {
	"$PY" - "$1" "$AZ_KEY" <<'EOF'
import base64, sys
data = open(sys.argv[1], "rb").read()
print(data.count(sys.argv[2].encode()) + data.count(base64.b64decode(sys.argv[2])))
EOF
}

@test "azure: a core of a daemon that signed with the account key holds no copy of the key" {
	creds "priv.key = $AZ_KEY"
	az_mount "priv=$AZ_URL/priv"
	cat "$M/priv/d/astropy/o4sp040b0_raw.fits/headers/1" >/dev/null
	core=$(gcore_pid "$(cat "$T/astrofs.pid")" "$T/core")
	hits=$(key_hits "$core")
	echo "key hits in the daemon's core: $hits ($(stat -c %s "$core") bytes)"
	[ "$hits" -eq 0 ]
	rm -f "$core"
	# the scan can fail: Azurite, which knows the key, holds it
	core=$(gcore_pid "$(sed -n 's/^AZ_PID=//p' "$AZSTATE/env")" "$T/core")
	hits=$(key_hits "$core")
	rm -f "$core"
	[ "$hits" -gt 0 ]
}

@test "azure: a credentials file others can read, or a bad entry, stops the mount with one line" {
	creds "priv.key = $AZ_KEY"
	chmod 644 "$T/creds"
	run "$ASTROFS" x "$T/mnt" -f -o "cache_dir=$T/cache,fits_azure=priv=$AZ_URL/priv,fits_azure_credentials=$T/creds"
	[ "$status" -ne 0 ]
	[[ "$output" == *"fits_azure_credentials"*"chmod 600"* ]]
	! mountpoint -q "$T/mnt"
	run "$ASTROFS" x "$T/mnt" -f -o "cache_dir=$T/cache,fits_azure=priv=ftp://x/priv"
	[ "$status" -ne 0 ]
	[[ "$output" == *"bad value for fits_azure"* ]]
	! mountpoint -q "$T/mnt"
}
