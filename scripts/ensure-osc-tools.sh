#!/usr/bin/env bash
# Installs the online schema change tools e2e/osc_test.go runs against the
# tests' MariaDB, unless they are there, and prints where they are as
# NAME=PATH lines (the test reads them):
#
#   pt-online-schema-change  Debian's percona-toolkit (3.2.1 on Debian 12;
#                            about 8 s, it pulls DBD::mysql).
#   gh-ost                   v1.1.6 (the proxy refuses v1.1.5 and v1.1.7),
#                            built from the module's source (about 45 s on a
#                            fresh machine, 3 s with Go's caches warm).
#                            Its module zip has no vendor tree and `go
#                            install …@v1.1.6` is refused (it asks for the
#                            version list), so the source is downloaded with
#                            `go mod download` and built with its go.sum.
#                            One line is changed: gh-ost opens its connections
#                            with transaction_isolation="REPEATABLE-READ",
#                            a variable MariaDB has only from 11.1; on 10.11
#                            it is tx_isolation (the same setting).
#
# GH_OST_DIR (default: $HOME/.cache/binlake-tools) is where gh-ost is built.
set -euo pipefail

GH_OST_VERSION=v1.1.6
GH_OST_DIR=${GH_OST_DIR:-${HOME:-/root}/.cache/binlake-tools}
gh_ost=$GH_OST_DIR/gh-ost-$GH_OST_VERSION-mariadb

sudo=()
if [[ $(id -u) -ne 0 ]]; then
	sudo=(sudo)
fi
apt_get() {
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"
}

if ! command -v pt-online-schema-change >/dev/null 2>&1; then
	echo "ensure-osc-tools: installing percona-toolkit with apt-get" >&2
	if ! apt_get install -y --no-install-recommends percona-toolkit >&2; then
		apt_get update >&2
		apt_get install -y --no-install-recommends percona-toolkit >&2
	fi
fi

if [[ ! -x $gh_ost ]]; then
	echo "ensure-osc-tools: building gh-ost $GH_OST_VERSION" >&2
	go=${GO:-go}
	mod=$("$go" mod download -json "github.com/github/gh-ost@$GH_OST_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[[ -d $mod ]] || { echo "ensure-osc-tools: go mod download gave no source directory" >&2; exit 1; }
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	cp -r "$mod/." "$work/src"
	chmod -R u+w "$work/src"
	rm -rf "$work/src/vendor"
	conn=$work/src/go/mysql/connection.go
	grep -q '"transaction_isolation=%q"' "$conn" || { echo "ensure-osc-tools: $conn changed; review the MariaDB patch" >&2; exit 1; }
	sed -i 's/"transaction_isolation=%q"/"tx_isolation=%q"/' "$conn"
	mkdir -p "$GH_OST_DIR"
	(cd "$work/src" && GOFLAGS=-mod=mod "$go" build -o "$gh_ost.tmp" ./go/cmd/gh-ost)
	mv "$gh_ost.tmp" "$gh_ost"
fi

echo "pt-online-schema-change=$(command -v pt-online-schema-change)"
echo "gh-ost=$gh_ost"
