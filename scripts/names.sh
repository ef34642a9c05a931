#!/bin/bash
# The naming rule: a function a module exports carries the module's file
# name as its prefix (astro_tlm_archive_* in tlm_archive.c, astro_log* in
# log.c), so a name says where it lives.  util.c holds the base utilities
# every part uses; its prefix is astro_ alone.  Static functions are free.
set -uo pipefail
cd "$(dirname "$0")/.."
# Names that still break the rule, to be renamed (issue 12): the obs store's
# front functions and the job model share obs_job.c, and the space-track
# client says astro_st_.  Nothing may join this list.
KNOWN=" astro_obs_batch_add astro_obs_batch_commit astro_obs_batch_free astro_obs_batch_init
 astro_obs_batch_reset astro_obs_image_name_valid astro_obs_state_allowed astro_obs_state_name
 astro_obs_state_parse astro_obs_state_terminal astro_obs_store_close astro_obs_store_latest_image
 astro_obs_store_max_pending astro_obs_store_open_local astro_obs_store_set_max_pending
 astro_obs_store_submit astro_obs_store_watch astro_obs_store_watch_wait astro_st_close
 astro_st_fetch_day astro_st_fetch_folder_file astro_st_get astro_st_get_secret astro_st_open
 astro_st_render "
KNOWN=$(echo $KNOWN)" "; KNOWN=" $KNOWN"
bad=0
while IFS= read -r f; do
	m=$(basename "$f" .c); m=${m#astro_}	# astro_frames.c: astro_frames_*
	[ "$m" = util ] && continue
	while IFS=: read -r ln name; do
		case "$name" in
		"astro_$m"|"astro_${m}_"*) ;;
		*) [[ "$KNOWN" == *" $name "* ]] && continue
		   echo "$f:$ln: $name does not start with astro_${m}_ (scripts/names.sh)" >&2; bad=1 ;;
		esac
	done < <(grep -noP '^(?!static\b)(?:ASTRO_TESTABLE\s+)?[A-Za-z_][\w \*]*?\bastro_\w+(?=\()' "$f" |
		 grep -v ';' | sed -E 's/^([0-9]+):.*\b(astro_[A-Za-z0-9_]+)$/\1:\2/')
done < <(find src -name '*.c' ! -path 'src/bin/*' | sort)
if [ $bad -ne 0 ]; then
	echo "FAIL lint: names" >> "${RESULTS:-/dev/null}"
	exit 1
fi
echo "PASS lint: names (exported functions carry their module's prefix)" >> "${RESULTS:-/dev/null}"
exit 0
