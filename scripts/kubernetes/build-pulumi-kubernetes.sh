#!/usr/bin/env bash
# Builds Pulumi's Kubernetes resource plugin (pulumi-resource-kubernetes), which `@pulumi/kubernetes` programs
# need for a real `pulumi up` and which cannot be downloaded here, from the Go module proxy into
#   $MODELPLANE_CACHE/pulumi-plugins/resource-kubernetes-v<version>/pulumi-resource-kubernetes
# Prints that binary's path as its last line; skips the build when it is there. Progress on stderr, logs in
# $MODELPLANE_CACHE/kubernetes/pulumi-kubernetes/logs/. Install it into a PULUMI_HOME with
#   pulumi plugin install resource kubernetes v<version> --file <that path>
# (test/support/pulumi-kubernetes-plugin.ts does, for the tests' temporary PULUMI_HOME).
#
# <version> is the @pulumi/kubernetes version package-lock.json installs (the SDK asks the engine for exactly
# that plugin version). The proxy serves the provider module only at one pseudo-version (below, a January 2026
# commit of pulumi-kubernetes); it is stamped with <version> (-ldflags -X …/pkg/version.Version), because
# the SDK's requests name <version>. The resource schema it serves is that commit's.
#
# Two things upstream's Makefile does are done here: the module's cmd/pulumi-resource-kubernetes embeds
# schema-embed.json and terraform-mapping-embed.json, which upstream generates (go generate) and does not ship
# in the module; this script writes them (schema.json with "version" set, both minified) next to a copy of that
# 20-line main.go in a wrapper module. Cold: module download + compile, ~N min on 2 cores (see README).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
say() { echo "[pulumi-kubernetes $(elapsed)] $*" >&2; }
die() { echo "[pulumi-kubernetes $(elapsed)] FAILED: $*" >&2; exit 1; }
fail_step() {
  echo "[pulumi-kubernetes $(elapsed)] FAILED $1; last lines of $2:" >&2
  tail -n 30 "$2" | sed 's/^/    /' >&2
  exit 1
}

PROVIDER_MODULE=github.com/pulumi/pulumi-kubernetes/provider/v4
PROVIDER_MODULE_VERSION=${PULUMI_KUBERNETES_MODULE_VERSION:-v4.0.0-20260115033456-f47bc2d6f199}
version=${PULUMI_KUBERNETES_VERSION:-$(sed -n '/"node_modules\/@pulumi\/kubernetes": {/,/}/s/^ *"version": "\([^"]*\)".*/\1/p' "$root/package-lock.json" | head -1)}
[ -n "$version" ] || die "no @pulumi/kubernetes version in $root/package-lock.json (or set PULUMI_KUBERNETES_VERSION)"

PLUGIN_DIR=$MODELPLANE_CACHE/pulumi-plugins/resource-kubernetes-v$version
PLUGIN=$PLUGIN_DIR/pulumi-resource-kubernetes
if [ -x "$PLUGIN" ]; then say "pulumi-resource-kubernetes v$version cached: $PLUGIN"; echo "$PLUGIN"; exit 0; fi
command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || die "go not found (needed to build pulumi-resource-kubernetes from the Go module proxy)"
export PATH="$PATH:/usr/local/go/bin"

WORK=$KUBE_CACHE/pulumi-kubernetes
LOGS=$WORK/logs
mkdir -p "$WORK" "$LOGS"
exec 9>"$WORK/build.lock"
if ! flock -n 9; then
  say "another build of pulumi-resource-kubernetes is running; waiting for it (lock $WORK/build.lock)"
  flock 9
  [ -x "$PLUGIN" ] && { say "built by the other run: $PLUGIN"; echo "$PLUGIN"; exit 0; }
fi

# The checksum database reachable here answers 404 for pulumi's modules (scripts/bootstrap.sh says the same
# for the CLI's), so they alone are exempt; go.sum still pins their hashes for this build.
export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}github.com/pulumi/pulumi,github.com/pulumi/pulumi-kubernetes,github.com/pulumi/cloud-ready-checks"

MOD=$WORK/module-$PROVIDER_MODULE_VERSION
mkdir -p "$MOD"
if [ ! -f "$MOD/go.sum" ] || [ ! -f "$MOD/main.go" ]; then
  say "resolving $PROVIDER_MODULE@$PROVIDER_MODULE_VERSION and its modules (log $LOGS/go-get.log)"
  printf 'module modelplane.local/pulumi-kubernetes-build\n\ngo 1.25\n' >"$MOD/go.mod"
  rm -f "$MOD/go.sum"
  (cd "$MOD" && run_step "go get" "$LOGS/go-get.log" go get "$PROVIDER_MODULE@$PROVIDER_MODULE_VERSION")
  src=$(cd "$MOD" && go list -m -f '{{.Dir}}' "$PROVIDER_MODULE")
  [ -f "$src/cmd/pulumi-resource-kubernetes/main.go" ] || die "$src has no cmd/pulumi-resource-kubernetes/main.go"
  cp "$src/cmd/pulumi-resource-kubernetes/main.go" "$MOD/main.go.tmp"
  chmod u+w "$MOD/main.go.tmp"
  cp "$src/cmd/pulumi-resource-kubernetes/schema.json" "$MOD/schema.json"
  cp "$src/cmd/pulumi-resource-kubernetes/terraform-mapping.json" "$MOD/terraform-mapping.json"
  chmod u+w "$MOD/schema.json" "$MOD/terraform-mapping.json"
  sed -i '/^\/\/go:generate/d' "$MOD/main.go.tmp"
  mv "$MOD/main.go.tmp" "$MOD/main.go"
  # what upstream's generate.go does: the schema with this build's version, both files minified
  (cd "$MOD" && run_step "go mod tidy" "$LOGS/go-mod-tidy.log" go mod tidy)
fi
say "writing the embedded schema (version $version)"
jq -c --arg v "$version" '.version = $v' "$MOD/schema.json" >"$MOD/schema-embed.json"
jq -c . "$MOD/terraform-mapping.json" >"$MOD/terraform-mapping-embed.json"

TMP=$(mktemp -d "$WORK/out.XXXXXX")
ticker=""
trap '[ -n "$ticker" ] && kill $ticker 2>/dev/null || true; rm -rf "$TMP"' EXIT
say "compiling pulumi-resource-kubernetes v$version (log $LOGS/go-build.log; Go build cache $GOCACHE)"
( while sleep 60; do say "still compiling: Go build cache $(du -sh "$GOCACHE" 2>/dev/null | cut -f1)"; done ) &
ticker=$!
(cd "$MOD" && run_step "go build" "$LOGS/go-build.log" \
  nice -n 10 go build -trimpath -ldflags "-s -w -X $PROVIDER_MODULE/pkg/version.Version=$version" -o "$TMP/pulumi-resource-kubernetes" .)
kill $ticker 2>/dev/null || true
ticker=""
[ -x "$TMP/pulumi-resource-kubernetes" ] || die "go build did not produce pulumi-resource-kubernetes"
mkdir -p "$(dirname "$PLUGIN_DIR")"
rm -rf "$PLUGIN_DIR"
mv -T "$TMP" "$PLUGIN_DIR"
say "pulumi-resource-kubernetes v$version in $PLUGIN ($(du -h "$PLUGIN" | cut -f1))"
echo "$PLUGIN"
