#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and kubectl
# ($KUBE_VERSION) from the k8s.io/kubernetes Go module into $MODELPLANE_CACHE/kubernetes/<version>/bin.
# Skips when the binaries are there. Cold: ~16 min of CPU on 2 cores (the trial: 948 s wall, GOCACHE 3.2 GB,
# binaries 463 MB); progress is printed every 60 s. Builds into a temporary directory and renames it into
# place, under a lock, so a second concurrent run waits for the first instead of building again.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

have_all() { local c; for c in $KUBE_COMMANDS; do [ -x "$KUBE_BIN/$c" ] || return 1; done; }
if have_all; then say "Kubernetes $KUBE_VERSION binaries cached in $KUBE_BIN"; exit 0; fi
command -v go >/dev/null || die "go not found (needed to build Kubernetes from the Go module proxy)"

mkdir -p "$KUBE_CACHE"
exec 9>"$KUBE_CACHE/build.lock"
if ! flock -n 9; then
  say "another build of the Kubernetes binaries is running; waiting for it (lock $KUBE_CACHE/build.lock)"
  flock 9
  have_all && { say "binaries built by the other run: $KUBE_BIN"; exit 0; }
fi

# The wrapper module: k8s.io/kubernetes requires its staging modules at v0.0.0 with `=> ./staging/...`
# replaces that only work inside its own repository, so each one is pinned to its published v0.<minor>.<patch>.
MOD=$KUBE_CACHE/$KUBE_VERSION/module
LOGS=$KUBE_CACHE/$KUBE_VERSION/logs
mkdir -p "$MOD" "$LOGS"
STAGING_VERSION=v0.${KUBE_VERSION#v1.}
if [ ! -f "$MOD/go.sum" ]; then
  say "writing the wrapper module for k8s.io/kubernetes@$KUBE_VERSION ($MOD)"
  gomod=$(cd "$MOD" && GOFLAGS= go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" \
          | sed -n 's/^\s*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$KUBE_VERSION's go.mod"
  mods=$(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod")
  [ -n "$mods" ] || die "no staging modules found in $gomod"
  {
    printf 'module k8sbuild\n\ngo 1.24.0\n\ngodebug default=go1.24\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$KUBE_VERSION"
    for m in $mods; do printf '\t%s => %s %s\n' "$m" "$m" "$STAGING_VERSION"; done
    printf ')\n'
  } >"$MOD/go.mod"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for c in $KUBE_COMMANDS; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
    printf ')\n'
  } >"$MOD/tools.go"
  rm -f "$MOD/go.sum"
  (cd "$MOD" && run_step "go mod tidy (module download)" "$LOGS/go-mod-tidy.log" go mod tidy)
fi

TMP=$(mktemp -d "$KUBE_CACHE/$KUBE_VERSION/bin.tmp.XXXXXX")
trap 'kill $ticker 2>/dev/null || true; rm -rf "$TMP"' EXIT
PKG=k8s.io/component-base/version
MINOR=$(echo "$KUBE_VERSION" | cut -d. -f2)
LD="-s -w -X $PKG.gitVersion=$KUBE_VERSION -X $PKG.gitMajor=1 -X $PKG.gitMinor=$MINOR -X $PKG.gitTreeState=clean -X $PKG.buildDate=1970-01-01T00:00:00Z"
say "building $KUBE_COMMANDS (cold: ~16 min of CPU; log $LOGS/go-build.log)"
( while sleep 60; do say "still building: Go build cache $(du -sh "$GOCACHE" 2>/dev/null | cut -f1) (cold build ends near 3.2G)"; done ) &
ticker=$!
(cd "$MOD" && run_step "go build" "$LOGS/go-build.log" \
  nice -n 10 go build -trimpath -ldflags "$LD" -o "$TMP/" $(for c in $KUBE_COMMANDS; do echo "k8s.io/kubernetes/cmd/$c"; done))
kill $ticker 2>/dev/null || true
for c in $KUBE_COMMANDS; do [ -x "$TMP/$c" ] || die "go build did not produce $c"; done
rm -rf "$KUBE_BIN"
mv -T "$TMP" "$KUBE_BIN"
say "Kubernetes $KUBE_VERSION binaries in $KUBE_BIN ($(du -sh "$KUBE_BIN" | cut -f1))"
