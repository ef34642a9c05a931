# Shared by the mount-level /obs bats tests (trees.bats, obs_aws.bats).

# expose_through_mount MNT SITE: unpark + expose 1 on one handle of the
# command file, wait (bounded) for COMPLETE, check images/latest names the
# new FITS image and its preview NAME.jpg is listed; prints the FITS name.
expose_through_mount() {
	local mnt=$1 site=$2 r1 r2 job state= img
	exec 7<>"$mnt/obs/$site/command"
	printf 'unpark\nexpose 1\n' >&7
	read -r r1 <&7
	read -r r2 <&7
	exec 7>&-
	[[ "$r1" == ok* ]] && [[ "$r2" == ok* ]] || { echo "replies: '$r1' '$r2'" >&2; return 1; }
	job=$(echo "$r2" | awk '{print $2}')
	for _ in $(seq 1 100); do
		state=$(jq -r .state "$mnt/obs/$site/jobs/$job" 2>/dev/null)
		[ "$state" = COMPLETE ] && break
		sleep 0.2
	done
	[ "$state" = COMPLETE ] || { echo "job $job is '$state'" >&2; return 1; }
	img=$(ls "$mnt/obs/$site/images" | grep '\.fits$' | head -1)
	[ -n "$img" ] && [ "$(readlink "$mnt/obs/$site/images/latest")" = "$img" ] ||
		{ echo "images: '$img', latest: '$(readlink "$mnt/obs/$site/images/latest")'" >&2; return 1; }
	[ -f "$mnt/obs/$site/images/${img%.fits}.jpg" ] ||
		{ echo "no preview ${img%.fits}.jpg: $(ls "$mnt/obs/$site/images")" >&2; return 1; }
	echo "$img"
}
