#!/usr/bin/env bash
# Builds helm v3 from its Go module (the chart tests run `helm lint` and `helm template`) and caches it
# outside the checkout, like build_pulumi.sh. Prints the binary's path.
set -euo pipefail
version=${HELM_VERSION:-v3.22.0}
cache=${INFRABOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/infrabot}
bin="$cache/helm-$version/bin"
if [ -x "$bin/helm" ]; then
  echo "$bin/helm"
  exit 0
fi
command -v go >/dev/null 2>&1 || { echo "setup: Go is needed to build helm (chart tests)" >&2; exit 1; }
echo "setup: building helm $version from its Go module (a few minutes, once)" >&2
mkdir -p "$bin.tmp"
GOBIN="$(cd "$bin.tmp" && pwd)" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$version" >&2
rm -rf "$bin"
mv "$bin.tmp" "$bin"
echo "$bin/helm"
