#!/bin/bash
# make deb: build the astrofs Debian binary package into build/deb/.
#
# dpkg-buildpackage wants debian/ at the top of the source tree and writes
# next to it, so build from a copy under build/deb/ and never touch the
# checkout.  The changelog's top entry is made from VERSION so the package
# version cannot drift from the program's.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-$(cat VERSION)}
out=build/deb
src=$out/astrofs-$version

for tool in dpkg-buildpackage dh; do
	command -v "$tool" >/dev/null || {
		echo "make deb: $tool is missing (apt-get install debhelper dpkg-dev fakeroot)" >&2
		exit 1
	}
done

rm -rf "$src"
mkdir -p "$src"
# Only what the package is built from; build outputs and tests stay out.
tar -c Makefile VERSION src include doc mount-helpers | tar -x -C "$src"
cp -r packaging/debian "$src/debian"
rm -f "$src/debian/.gitignore"

maint=$(sed -n 's/^Maintainer: //p' packaging/debian/control)
{
	printf 'astrofs (%s) unstable; urgency=medium\n\n' "$version"
	printf '  * Release %s.\n\n' "$version"
	printf ' -- %s  %s\n' "$maint" "$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")"
} >"$src/debian/changelog"

rm -f "$out"/astrofs_*.deb "$out"/astrofs-dbgsym_*.deb "$out"/astrofs_*.buildinfo "$out"/astrofs_*.changes
(cd "$src" && dpkg-buildpackage -b -us -uc -j1 >../build.log 2>&1) || {
	tail -40 "$out/build.log" >&2
	echo "make deb: dpkg-buildpackage failed; full log in $out/build.log" >&2
	exit 1
}
deb=$(ls "$out"/astrofs_"$version"_*.deb)
echo "$deb"
if command -v lintian >/dev/null; then
	lintian --fail-on error "$deb" | tee "$out/lintian.log" || {
		echo "make deb: lintian found errors in $deb" >&2
		exit 1
	}
fi
