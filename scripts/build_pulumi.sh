#!/usr/bin/env bash
# Builds the real pulumi CLI from its Go module (no registry here ships the binary) and caches it
# outside the checkout, so a fresh clone on the same machine reuses it. Prints the bin directory.
set -euo pipefail
version=${PULUMI_CLI_VERSION:-v3.274.1}
cache=${INFRABOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/infrabot}
bin="$cache/pulumi-$version/bin"
if [ -x "$bin/pulumi" ] && [ -x "$bin/pulumi-resource-pulumi-python" ]; then
  echo "$bin"
  exit 0
fi
# Two set-ups at once (parallel CI jobs, several checkouts) wait for one build instead of racing.
mkdir -p "$cache"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache/.pulumi-$version.lock"
  flock 9
  if [ -x "$bin/pulumi" ] && [ -x "$bin/pulumi-resource-pulumi-python" ]; then
    echo "$bin"
    exit 0
  fi
fi
command -v go >/dev/null 2>&1 || { echo "setup: Go is needed to build the pulumi CLI" >&2; exit 1; }
echo "setup: building the pulumi CLI $version from its Go module (about 11 minutes, once)" >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go mod download "github.com/pulumi/pulumi/pkg/v3@$version" "github.com/pulumi/pulumi/sdk/v3@$version" >&2
modcache=$(go env GOMODCACHE)
pkg="$modcache/github.com/pulumi/pulumi/pkg/v3@$version"
sdk="$modcache/github.com/pulumi/pulumi/sdk/v3@$version"
cp "$pkg"/cmd/pulumi/main.go "$pkg"/cmd/pulumi/pulumi.go "$pkg"/cmd/pulumi/doc.go "$work"/
chmod u+w "$work"/*.go
cat > "$work/go.mod" <<MOD
module infrabot.local/pulumicli

go 1.26

require (
	github.com/pulumi/pulumi/pkg/v3 $version
	github.com/pulumi/pulumi/sdk/v3 $version
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
MOD
(cd "$work" && go mod tidy >&2 && go build -trimpath \
  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" -o "$work/out/pulumi" .)
mkdir -p "$bin.tmp"
install -m755 "$work/out/pulumi" "$bin.tmp/pulumi"
install -m755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$bin.tmp/"
rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo "$bin"
