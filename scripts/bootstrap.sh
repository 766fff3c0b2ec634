#!/usr/bin/env bash
# Makes everything modelplane's commands and tests need available offline:
#   1. npm packages (npm ci when node_modules is missing or older than package-lock.json);
#   2. the Pulumi CLI v3.248.0 with the nodejs language host and the dynamic-provider host script.
# Pulumi: use `pulumi` from PATH when its version fits, else a cached build under
# $MODELPLANE_CACHE (default ~/.cache/modelplane), else build it from the Go modules
# (a few minutes the first time). The build goes to a temp dir that is renamed into place
# only when complete, so an interrupted build never leaves a half-written cache.
# Prints, as its last line, the directory holding the `pulumi` binary (scripts read it with tail -1).
set -euo pipefail

PULUMI_VERSION="3.248.0"
# pulumi-language-nodejs has no version tags: its pseudo-version at the v3.248.0 release commit.
NODEJS_HOST_VERSION="v3.0.0-20260624180030-dc7edd58bc13"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${MODELPLANE_CACHE:-$HOME/.cache/modelplane}"
target="$cache/pulumi-v$PULUMI_VERSION"

say() { echo "[bootstrap] $*" >&2; }

# --- npm packages -------------------------------------------------------------------------
if [ ! -d "$root/node_modules/@pulumi/pulumi" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  say "installing npm packages (npm ci)"
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
host_script="$root/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"
[ -f "$host_script" ] || { say "missing $host_script after npm install"; exit 1; }

# --- Pulumi CLI ---------------------------------------------------------------------------
version_fits() { "$1" version 2>/dev/null | grep -qx "v$PULUMI_VERSION"; }

install_host_script() { # the dynamic-provider host must sit beside the CLI
  cp "$host_script" "$1/pulumi-resource-pulumi-nodejs"
  chmod +x "$1/pulumi-resource-pulumi-nodejs"
}

if command -v pulumi >/dev/null 2>&1 && version_fits pulumi; then
  dir="$(dirname "$(command -v pulumi)")"
  if [ ! -x "$dir/pulumi-resource-pulumi-nodejs" ] && [ -w "$dir" ]; then install_host_script "$dir"; fi
  say "using pulumi v$PULUMI_VERSION from PATH ($dir)"
  echo "$dir"
  exit 0
fi

if [ -x "$target/bin/pulumi" ] && version_fits "$target/bin/pulumi"; then
  install_host_script "$target/bin"   # cheap; keeps it in step with the installed @pulumi/pulumi
  say "using cached pulumi v$PULUMI_VERSION ($target/bin)"
  echo "$target/bin"
  exit 0
fi

command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || {
  say "ERROR: the Pulumi CLI v$PULUMI_VERSION is not on PATH and Go is not installed to build it."
  say "Install Go >= 1.24 (https://go.dev/dl) or put pulumi v$PULUMI_VERSION and pulumi-language-nodejs on PATH."
  exit 1
}
export PATH="$PATH:/usr/local/go/bin"

mkdir -p "$cache"
work="$(mktemp -d "$cache/.build-pulumi.XXXXXX")"
trap 'rm -rf "$work"' EXIT
say "building the Pulumi CLI v$PULUMI_VERSION from its Go modules in $work"
say "(first time only: downloads a few hundred modules and compiles; expect 5-15 minutes on 2 cores)"
cd "$work"
cat > go.mod <<GOMOD
module modelplane.local/pulumi-cli-build

go 1.24
GOMOD
# The checksum database mirror reachable here answers 404 for the pulumi modules (every other
# module verifies), so they alone are exempt; go.sum still pins their hashes for this build.
export CGO_ENABLED=0 GOFLAGS=-mod=mod GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/pulumi/pulumi"
started=$(date +%s)
say "resolving modules: pulumi/pkg/v3 and pulumi/sdk/v3 @ v$PULUMI_VERSION"
go get "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" >&2
go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$PULUMI_VERSION" >&2
# The nodejs language host runs `pulumi up` on a project directory. modelplane drives Pulumi
# through the Automation API with inline programs, whose language host runs inside the Node
# process, so it is optional: the module proxy reachable here answers 403 for its pseudo-version.
nodejs_host=yes
if ! go get "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3@$NODEJS_HOST_VERSION" >&2; then
  nodejs_host=no
  say "WARNING: pulumi-language-nodejs $NODEJS_HOST_VERSION cannot be fetched from the module proxy;"
  say "         continuing without it (inline Automation API programs do not need it)."
fi
# `go get` may have moved sdk/v3 while resolving the nodejs host; pin it back to the CLI's version.
go get "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" >&2
say "modules resolved after $(( $(date +%s) - started )) s; compiling (the progress below is go's own)"
ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
mkdir -p out/bin
( while sleep 30; do say "still compiling... $(( $(date +%s) - started )) s"; done ) &
ticker=$!
trap 'kill $ticker 2>/dev/null; rm -rf "$work"' EXIT
go build -trimpath -tags osusergo,grpcnotrace -ldflags "$ldflags" -o out/bin/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi >&2
if [ "$nodejs_host" = yes ]; then
  go build -trimpath -tags osusergo,grpcnotrace -ldflags "$ldflags" -o out/bin/pulumi-language-nodejs github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 >&2
fi
kill $ticker 2>/dev/null || true
install_host_script out/bin
version_fits out/bin/pulumi || { say "ERROR: built pulumi does not report v$PULUMI_VERSION: $(out/bin/pulumi version 2>&1)"; exit 1; }
rm -rf "$target.old"
[ -e "$target" ] && mv "$target" "$target.old"
mv out "$target"
rm -rf "$target.old"
say "built pulumi v$PULUMI_VERSION in $(( $(date +%s) - started )) s -> $target/bin"
echo "$target/bin"
