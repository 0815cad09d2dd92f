#!/usr/bin/env bash
# Installs the MariaDB server the tests run against (internal/testenv starts
# its own mariadbd on a loopback port with its data under the test's temp
# directory), unless mariadbd is already installed. Debian's mariadb-server
# package (MariaDB 10.11) installs in about 15 s.
#
# The package's own system service is never wanted: it is kept from starting
# while apt installs, and stopped if it runs anyway, so nothing holds port
# 3306 or /run/mysqld behind the tests' backs.
set -euo pipefail

have_mariadbd() {
	command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]]
}

if have_mariadbd; then
	exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	sudo=(sudo)
fi

# Keep invoke-rc.d from starting the service during the install, unless the
# machine already has a policy (which we leave as it is).
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
	"${sudo[@]}" chmod 755 "$policy"
	added_policy=1
fi
cleanup() {
	if [[ $added_policy -eq 1 ]]; then
		"${sudo[@]}" rm -f "$policy"
	fi
}
trap cleanup EXIT

# Wait for another apt (a background install, unattended upgrades) rather
# than failing on its lock.
apt_get() {
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"
}

echo "ensure-mariadb: installing mariadb-server with apt-get" >&2
if ! apt_get install -y --no-install-recommends mariadb-server; then
	apt_get update
	apt_get install -y --no-install-recommends mariadb-server
fi

# If the service started anyway (no policy honoured, systemd), stop it.
if [[ -s /run/mysqld/mysqld.pid ]]; then
	echo "ensure-mariadb: stopping the system mariadb service" >&2
	"${sudo[@]}" systemctl stop mariadb 2>/dev/null ||
		"${sudo[@]}" service mariadb stop 2>/dev/null ||
		"${sudo[@]}" kill "$(cat /run/mysqld/mysqld.pid)" 2>/dev/null || true
fi
if command -v systemctl >/dev/null 2>&1; then
	"${sudo[@]}" systemctl disable mariadb >/dev/null 2>&1 || true
fi

have_mariadbd || { echo "ensure-mariadb: mariadbd still missing after install" >&2; exit 1; }
echo "ensure-mariadb: installed $(command -v mariadbd || echo /usr/sbin/mariadbd)" >&2
