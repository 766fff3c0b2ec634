# Shared settings and helpers for scripts/kubernetes/*.sh (sourced, not run).
# Caches (Go modules, Go build cache, binaries, packages' images) live under $MODELPLANE_CACHE/kubernetes so
# that `ci-fresh-clone --cold` (which empties $MODELPLANE_CACHE) starts from nothing; the running cluster's
# state lives under $MODELPLANE_CLUSTER_DIR.

MODELPLANE_CACHE=${MODELPLANE_CACHE:-$HOME/.cache/modelplane}
# 1.34 because containerd 1.6 (Debian 12) is supported by kubelets up to 1.35 only (the trial's kubelet
# reported kubelet_cri_losing_support{version="1.36.0"}).
KUBE_VERSION=${KUBE_VERSION:-v1.34.4}
KUBE_CACHE=$MODELPLANE_CACHE/kubernetes
KUBE_BIN=$KUBE_CACHE/$KUBE_VERSION/bin
KUBE_COMMANDS="kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl"
export GOMODCACHE=$KUBE_CACHE/gomod
export GOCACHE=$KUBE_CACHE/gocache
export GOFLAGS=-mod=mod
export CGO_ENABLED=0

# Where this checkout's cluster keeps its state, PKI and logs.
MODELPLANE_CLUSTER_DIR=${MODELPLANE_CLUSTER_DIR:-$MODELPLANE_CACHE/cluster}
MODELPLANE_KUBE_NODE=${MODELPLANE_KUBE_NODE:-modelplane}
# The machine-wide record of the one running cluster (which directory started it, and its env file): there
# can be only one per machine (ports 6443/2379/10250, bridge cni0, KUBE-* chains).
MODELPLANE_CLUSTER_RECORD=/run/modelplane-cluster
MODELPLANE_CLUSTER_ENV_FILE=$MODELPLANE_CLUSTER_RECORD/env

KUBE_T0=${KUBE_T0:-$(date +%s%N)}
elapsed() { local ms=$(( ($(date +%s%N) - KUBE_T0) / 1000000 )); printf '%d.%01ds' $((ms / 1000)) $(( (ms % 1000) / 100 )); }
say() { echo "[cluster $(elapsed)] $*"; }
die() { echo "[cluster $(elapsed)] FAILED: $*" >&2; exit 1; }
# fail_step WHAT LOG: names what failed, shows the last lines of LOG, exits
fail_step() {
  echo "[cluster $(elapsed)] FAILED $1; last lines of $2:" >&2
  tail -n 30 "$2" | sed 's/^/    /' >&2
  exit 1
}
# run_step NAME LOG CMD...: runs CMD with output in LOG; on failure names the step and shows LOG's tail.
run_step() {
  local name=$1 log=$2; shift 2
  local s=$(date +%s%N)
  # a subshell, so that a function that exits still gets its failure reported here
  if ("$@") >"$log" 2>&1; then
    say "$name done in $(( ($(date +%s%N) - s) / 1000000 )) ms"
  else
    fail_step "step '$name' (exit $?)" "$log"
  fi
}
