#!/usr/bin/env bash
# Installs the MinIO server the tests run against (internal/testenv starts
# it), pinned so every machine and CI builds the same one, unless that exact
# version is already in $(go env GOBIN) or $(go env GOPATH)/bin.
# A fresh build takes about 3 minutes.
set -euo pipefail

# Keep in step with testenv.MinIOModule.
module=github.com/minio/minio
version=v0.0.0-20260212201848-7aac2a2c5b7c

gobin=$(go env GOBIN)
if [[ -z "$gobin" ]]; then
	gopath=$(go env GOPATH)
	gobin="${gopath%%:*}/bin"
fi
bin="$gobin/minio"

if [[ -x "$bin" ]] && go version -m "$bin" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+$module[[:space:]]+$version([[:space:]]|$)"; then
	exit 0
fi

if [[ -x "$bin" ]]; then
	echo "ensure-minio: $bin is not $module@$version: reinstalling" >&2
fi
echo "ensure-minio: installing $module@$version into $gobin (about 3 minutes on a fresh machine)" >&2
go install "$module@$version"
echo "ensure-minio: installed $bin" >&2
