#!/bin/bash
# A throwaway single-node Ceph RADOS Gateway on 127.0.0.1 for the shared-tier
# tests: one monitor, one memstore OSD and radosgw, everything (config,
# keyrings, data, logs, admin sockets, PIDs) inside DIR, no systemd, stopped
# by the PIDs it recorded.
#
#   rgw.sh start DIR      prints "endpoint http://127.0.0.1:PORT" once an S3
#                         PUT works; S3 user AK/SK (rgw.sh creds prints them)
#   rgw.sh stop DIR       SIGTERM rgw, osd, mon (reverse order), 0.5 s each
#                         then SIGKILL (RGW 16.2 lingers ~7 s on SIGTERM; the
#                         data is a throwaway memstore)
#   rgw.sh available      exit 0 when ceph-mon, ceph-osd and radosgw exist
#
# Ports: RGW_PORT/MON_PORT from the environment, else free ones.
set -euo pipefail

AK=astrofs-fleet-ak
SK=astrofs-fleet-secret-key-0123456789

die() { echo "rgw.sh: $*" >&2; exit 1; }

free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

stop() {
	local d=$1 p
	for name in rgw osd mon; do
		[ -f "$d/$name.pid" ] || continue
		p=$(cat "$d/$name.pid")
		kill "$p" 2>/dev/null || true
		for _ in $(seq 1 5); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
		rm -f "$d/$name.pid"
	done
}

start() {
	local d=$1 fsid uuid id mon_port rgw_port c
	mkdir -p "$d"/{mon,osd,run,log}
	d=$(cd "$d" && pwd)
	mon_port=${MON_PORT:-$(free_port)}
	rgw_port=${RGW_PORT:-$(free_port)}
	fsid=$(cat /proc/sys/kernel/random/uuid)
	c="$d/ceph.conf"
	cat >"$c" <<-EOF
	[global]
	fsid = $fsid
	mon host = v2:127.0.0.1:$mon_port
	public addr = 127.0.0.1
	cluster addr = 127.0.0.1
	ms bind ipv6 = false
	auth cluster required = none
	auth service required = none
	auth client required = none
	osd pool default size = 1
	osd pool default min size = 1
	osd pool default pg num = 8
	osd pool default pgp num = 8
	mon allow pool size one = true
	osd crush chooseleaf type = 0
	paxos propose interval = 0.05
	paxos min wait = 0.01
	run dir = $d/run
	admin socket = $d/run/\$name.asok
	log file = $d/log/\$name.log
	pid file =
	mon data = $d/mon/\$name
	osd data = $d/osd/\$name
	osd objectstore = memstore
	memstore device bytes = 536870912
	mon warn on pool no redundancy = false
	[client.rgw.a]
	ms mon client mode = crc secure
	auth client required = none
	rgw frontends = beast endpoint=127.0.0.1:$rgw_port
	rgw data = $d/rgw
	rgw dns name = 127.0.0.1
	EOF
	local C=(-c "$c" --cluster ceph)
	monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$d/monmap" >/dev/null
	ceph-mon "${C[@]}" --mkfs -i a --monmap "$d/monmap" >"$d/log/mkfs-mon.out" 2>&1 ||
		die "ceph-mon --mkfs failed: $(tail -3 "$d/log/mkfs-mon.out")"
	ceph-mon "${C[@]}" -i a -f >"$d/log/mon.out" 2>&1 &
	echo $! >"$d/mon.pid"
	uuid=$(cat /proc/sys/kernel/random/uuid)
	id=$(timeout 20 ceph "${C[@]}" osd new "$uuid" 2>"$d/log/osdnew.err") ||
		die "ceph osd new failed: $(tail -3 "$d/log/osdnew.err")"
	mkdir -p "$d/osd/osd.$id"
	ceph-osd "${C[@]}" -i "$id" --mkfs --osd-uuid "$uuid" >"$d/log/mkfs-osd.out" 2>&1 ||
		die "ceph-osd --mkfs failed: $(tail -3 "$d/log/mkfs-osd.out")"
	ceph-osd "${C[@]}" -i "$id" -f >"$d/log/osd.out" 2>&1 &
	echo $! >"$d/osd.pid"
	mkdir -p "$d/rgw"
	radosgw "${C[@]}" -n client.rgw.a -f >"$d/log/rgw.out" 2>&1 &
	echo $! >"$d/rgw.pid"
	echo "$rgw_port" >"$d/port"
	timeout 30 radosgw-admin "${C[@]}" user create --uid=tester --display-name=T \
		--access-key="$AK" --secret-key="$SK" >"$d/log/user.out" 2>&1 ||
		die "radosgw-admin user create failed: $(tail -3 "$d/log/user.out")"
	printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$AK" "$SK" >"$d/credentials"
	chmod 600 "$d/credentials"
	# Ready when RGW answers HTTP (any status).
	for _ in $(seq 1 300); do
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$rgw_port/" && {
			echo "endpoint http://127.0.0.1:$rgw_port"
			return 0
		}
		kill -0 "$(cat "$d/rgw.pid")" 2>/dev/null || die "radosgw exited: $(tail -5 "$d/log/rgw.out")"
		sleep 0.1
	done
	die "radosgw did not answer within 30 s"
}

case "${1:-}" in
start) [ -n "${2:-}" ] || die "usage: rgw.sh start DIR"
	trap 'stop "$2"' ERR
	start "$2" ;;
stop) [ -n "${2:-}" ] || die "usage: rgw.sh stop DIR"; stop "$2" ;;
available) command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null &&
	command -v radosgw >/dev/null ;;
creds) echo "$AK $SK" ;;
*) die "usage: rgw.sh start|stop DIR | available | creds" ;;
esac
