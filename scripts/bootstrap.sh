#!/bin/bash
# Install whatever Debian packages (scripts/deps.txt) and pinned npm test
# dependencies (tests/*/package-lock.json) are missing.  Idempotent and quiet
# when nothing is missing, so `make check` and `make demo` can always run it.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r pkg; do
	case "$pkg" in ''|'#'*) continue ;; esac
	cmd=
	case "$pkg" in *:*) cmd=${pkg#*:}; pkg=${pkg%%:*} ;; esac
	if [ -n "$cmd" ] && command -v "$cmd" >/dev/null 2>&1; then
		continue
	fi
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$pkg")
	fi
done < scripts/deps.txt

if [ ${#missing[@]} -gt 0 ]; then
	echo "bootstrap: installing ${missing[*]}" >&2
	SUDO=
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null; then SUDO=sudo; else
			echo "bootstrap: need root to install: ${missing[*]}" >&2; exit 1
		fi
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq >&2
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# npm test dependencies, pinned by their lockfiles.
for lock in tests/*/package-lock.json tests/*/*/package-lock.json; do
	[ -f "$lock" ] || continue
	dir=$(dirname "$lock")
	stamp="$dir/node_modules/.astrofs-stamp"
	if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
		echo "bootstrap: npm ci in $dir" >&2
		npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2
		touch "$stamp"
	fi
done

# FUSE needs the device; say so once instead of failing obscurely later.
if [ ! -c /dev/fuse ]; then
	echo "bootstrap: warning: /dev/fuse is missing; mount tests will be skipped" >&2
fi
exit 0
