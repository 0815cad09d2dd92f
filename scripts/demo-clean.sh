#!/usr/bin/env bash
# make demo-clean: stops the demo's binlake ingest and MariaDB and removes
# the demo directory (BINLAKE_DEMO_DIR, default /var/tmp/binlake-demo).
set -euo pipefail

dir=${BINLAKE_DEMO_DIR:-/var/tmp/binlake-demo}
quiet=0
[[ ${1:-} == --quiet ]] && quiet=1

stop() {
	local pidfile=$1 what=$2
	[[ -s $pidfile ]] || return 0
	local pid
	pid=$(cat "$pidfile")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		[[ $quiet -eq 1 ]] || echo "stopped $what (pid $pid)"
	fi
}

stop "$dir/run/ingest.pid" "binlake ingest"
stop "$dir/run/mariadbd.pid" "MariaDB"
if [[ -d $dir ]]; then
	# Only what the demo made: refuse a directory that is not a demo's.
	if [[ -e $dir/my.cnf || -d $dir/warehouse || -z $(ls -A "$dir") ]]; then
		rm -rf "$dir"
		[[ $quiet -eq 1 ]] || echo "removed $dir"
	else
		echo "demo-clean: $dir does not look like the demo's directory; leaving it" >&2
		exit 1
	fi
fi
