#!/usr/bin/env bash
# modelplane's single-node Kubernetes test cluster: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy, containerd + runc and the CNI bridge, as plain processes on this machine.
#
#   scripts/kubernetes/cluster.sh up       build what is missing, start the cluster, wait until a pod can be
#                                          admitted (cold: the Kubernetes build, 16 min alone / 29 min measured
#                                          under load 20-28; warm: 17 s to a usable cluster + 10-15 s for images)
#   scripts/kubernetes/cluster.sh down     stop it and undo what it changed on the host; the next `up` starts
#                                          from an empty etcd (images already imported are kept)
#   scripts/kubernetes/cluster.sh down --purge   also delete the cluster directory (PKI, image store)
#   scripts/kubernetes/cluster.sh status   each component's state; exit 0 when a cluster is up and ready
#   scripts/kubernetes/cluster.sh env      `export` lines for the running cluster: eval "$(… env)"
#
# Tests and tools find the running cluster through its env file, MODELPLANE_CLUSTER_ENV_FILE
# (/run/modelplane-cluster/env), KEY=VALUE lines:
#   MODELPLANE_KUBECONFIG          admin kubeconfig (https://127.0.0.1:6443, client certificate)
#   MODELPLANE_CONTAINERD_SOCKET   where build-image.sh imports images (namespace k8s.io)
#   MODELPLANE_KUBE_BIN            kubectl and the other binaries
#   MODELPLANE_KUBE_NODE, MODELPLANE_POD_CIDR, MODELPLANE_SERVICE_CIDR, MODELPLANE_CLUSTER_DIR
#
# One cluster per machine (it owns ports 6443, 2379, 10250, the bridge cni0 and the KUBE-*/CNI-* iptables
# chains). `up` from a second checkout finds the running cluster through /run/modelplane-cluster and uses
# it (MODELPLANE_CLUSTER_REUSE=0: fail instead); `down` stops only a cluster this checkout's directory
# started. State: $MODELPLANE_CLUSTER_DIR (default $MODELPLANE_CACHE/cluster). Must run as root.
#
# Settings this machine needs (see ../shared/docs/kubernetes-on-this-machine.md): containerd's
# restrict_oom_score_adj (root here lacks CAP_SYS_RESOURCE, so runc cannot lower oom_score_adj); kube-proxy
# --iptables-localhost-nodeports=false and --conntrack-*=0 (else it rewrites route_localnet and conntrack
# sysctls); every path the kubelet and containerd allow configured under the cluster directory.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

D=$MODELPLANE_CLUSTER_DIR
P=$D/pki; E=$D/etc; R=$D/run; L=$D/logs
SOCK=$R/containerd/containerd.sock
NODE=$MODELPLANE_KUBE_NODE
POD_CIDR=198.18.0.0/24      # benchmarking range (RFC 2544): nothing looks like a private network
SERVICE_CIDR=198.19.0.0/24
SERVICE_IP=198.19.0.1       # the `kubernetes` service: first address of SERVICE_CIDR
PAUSE_IMAGE=localhost/pause:3.10
COMPONENTS="etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy"
# sysctls the kubelet, kube-proxy or the CNI bridge set; recorded before the first start, restored by `down`
SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
kernel.keys.root_maxbytes net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
net.ipv4.conf.all.route_localnet net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established
net.netfilter.nf_conntrack_tcp_timeout_close_wait"

export KUBECACHEDIR=$R/kube-cache   # kubectl's discovery cache, else ~/.kube/cache
kubectl_() { "$KUBE_BIN/kubectl" --kubeconfig "$P/admin.kubeconfig" --request-timeout=5s "$@"; }

# --- processes --------------------------------------------------------------------------------------------
# alive PID NAME: running (a zombie counts as dead: PID 1 here reaps orphans lazily) and still NAME
alive() {
  [ -r "/proc/$1/status" ] || return 1
  grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null && return 1
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q -- "$2"
}
pid_of() { [ -f "$1/run/$2.pid" ] && cat "$1/run/$2.pid"; }
running() { local p; p=$(pid_of "$1" "$2") && [ -n "$p" ] && alive "$p" "$2"; }

start() { # name cmd...: starts a daemon in its own session, output to $L/name.log
  local name=$1; shift
  if running "$D" "$name"; then say "$name already running (pid $(pid_of "$D" "$name"))"; return; fi
  # own session (a CI job's end does not signal it); fd 8 (the record lock) closed, else the daemon holds it
  setsid "$@" </dev/null >"$L/$name.log" 2>&1 8>&- &
  local p=$! i
  echo $p >"$R/$name.pid"
  # Until the forked shell has exec'd the daemon its command line is this script's, and `running`
  # would take the daemon for one that exited (the first start in CI failed so: "kubelet exited, pid
  # … still runs: bash scripts/kubernetes/cluster.sh up", an empty kubelet.log). Up to 2 s; a daemon
  # that exits at once is reported by the step that waits for it.
  for i in $(seq 100); do
    [ -r "/proc/$p/status" ] || break
    grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null && break
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- "$name" && break
    sleep 0.02
  done
  say "started $name (pid $p)"
}

# exit_status_of COMPONENT: how a daemon this shell started ended — "exit N", or the signal that killed
# it (a daemon killed before it flushed its log leaves an empty log: the status is then all there is),
# into EXIT_STATUS; not in a $(…) subshell, whose `wait` does not know this shell's children
exit_status_of() {
  local p status=0
  EXIT_STATUS="status unknown"
  p=$(pid_of "$D" "$1") || return 0
  # still there and not a zombie: `wait` would block on a live daemon (alive() matched no command line)
  if [ -r "/proc/$p/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null; then
    EXIT_STATUS="pid $p still runs: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-120)"
    return 0
  fi
  wait "$p" 2>/dev/null || status=$?
  if [ "$status" = 127 ]; then return 0; fi
  if [ "$status" -gt 128 ]; then EXIT_STATUS="killed by signal $((status - 128)) ($(kill -l $((status - 128)) 2>/dev/null || echo '?'))"; else EXIT_STATUS="exit $status"; fi
}

# wait_for DESC TIMEOUT_S COMPONENT CMD...: polls CMD every 0.2 s; on timeout names the step, shows the
# component's log tail and fails
wait_for() {
  local desc=$1 timeout=$2 component=$3; shift 3
  local s=$(date +%s%N) end=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if ! running "$D" "$component"; then
      exit_status_of "$component"
      fail_step "waiting for $desc: $component exited, $EXIT_STATUS (undo with: $0 down)" "$L/$component.log"
    fi
    [ "$(date +%s)" -lt "$end" ] || fail_step "waiting for $desc: not within ${timeout}s (undo with: $0 down)" "$L/$component.log"
    sleep 0.2
  done
  say "$desc after $(( ($(date +%s%N) - s) / 1000000 )) ms"
}

stop() { # dir name: TERM, up to 10 s, then KILL
  local dir=$1 name=$2 p
  p=$(pid_of "$dir" "$name") || return 0
  if [ -n "$p" ] && alive "$p" "$name"; then
    kill "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$p" "$name" || break; sleep 0.1; done
    if alive "$p" "$name"; then kill -9 "$p" 2>/dev/null || true; say "killed $name (pid $p) after 10 s"; else say "stopped $name (pid $p)"; fi
  fi
  rm -f "$dir/run/$name.pid"
}

# --- the machine-wide record of the running cluster ---------------------------------------------------------
record_dir() { [ -f "$MODELPLANE_CLUSTER_RECORD/dir" ] && cat "$MODELPLANE_CLUSTER_RECORD/dir"; }
healthy() { # dir: every component running and the API server ready
  local dir=$1 c
  for c in $COMPONENTS; do running "$dir" "$c" || return 1; done
  # curl, not kubectl: a checkout with another (or an empty) $MODELPLANE_CACHE has no kubectl yet
  curl -sf --max-time 5 --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key" \
    https://127.0.0.1:6443/readyz >/dev/null 2>&1
}
lock() {
  mkdir -p "$MODELPLANE_CLUSTER_RECORD"
  exec 8>"$MODELPLANE_CLUSTER_RECORD/lock"
  if ! flock -n 8; then say "another cluster.sh up/down is running; waiting for it"; flock 8; fi
}

# --- configuration files -------------------------------------------------------------------------------------
write_configs() {
  mkdir -p "$E/cni" "$E/manifests" "$R" "$L"
  cat >"$E/containerd.toml" <<EOF
version = 2
root = "$R/containerd/root"
state = "$R/containerd/state"
# plugins that would write outside the cluster directory or are unused here
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$SOCK"
[plugins."io.containerd.internal.v1.opt"]
  path = "$R/containerd/opt"
# the v1 runtime is unused but the task service needs it loaded; its default root is /run/containerd/runc
[plugins."io.containerd.runtime.v1.linux"]
  runtime_root = "$R/runc-v1"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  netns_mounts_under_state_dir = true
  enable_cdi = false
  # root here lacks CAP_SYS_RESOURCE: runc cannot write the negative oom_score_adj the kubelet asks for
  # (pause: -998) and every sandbox failed with "can't get final child's PID from pipe: EOF"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$E/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
        Root = "$R/runc"
EOF
  cat >"$E/cni/10-bridge.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "modelplane-pods",
  "plugins": [
    {
      "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": "$R/cni-ipam", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  # no clusterDNS: there is no cluster DNS server (pods get the host's resolv.conf; services are reachable by
  # their ClusterIP and the {NAME}_SERVICE_HOST variables)
  cat >"$E/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $P/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $P/kubelet.crt
tlsPrivateKeyFile: $P/kubelet.key
cgroupDriver: cgroupfs
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://$SOCK
clusterDomain: cluster.local
podLogsDir: $R/pod-logs
resolvConf: /etc/resolv.conf
staticPodPath: $E/manifests
registerNode: true
nodeStatusReportFrequency: 10s
syncFrequency: 10s
fileCheckFrequency: 5s
# images are imported, never pulled: garbage-collecting them would lose them
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
volumePluginDir: $R/kubelet-plugins/volume/exec
EOF
}

# --- images ----------------------------------------------------------------------------------------------------
pause_image() { # the sandbox image: pause.c from the k8s.io/kubernetes module, compiled static
  local dir=$KUBE_CACHE/images
  mkdir -p "$dir"
  if [ ! -x "$dir/pause" ]; then
    local src=$GOMODCACHE/k8s.io/kubernetes@$KUBE_VERSION/build/pause/linux/pause.c
    [ -f "$src" ] || die "missing $src (build-binaries.sh downloads it)"
    command -v gcc >/dev/null || die "gcc is needed to compile the pause image (apt-get install gcc libc6-dev)"
    gcc -Os -static -DVERSION=v3.10 -o "$dir/pause.tmp" "$src" || return 1
    mv "$dir/pause.tmp" "$dir/pause"
  fi
  if [ ! -f "$dir/pause.tar" ]; then
    node "$here/image-archive.mjs" --out "$dir/pause.tar.tmp" --name "$PAUSE_IMAGE" --entrypoint '["/pause"]' \
      --add "$dir/pause:/pause" || return 1
    mv "$dir/pause.tar.tmp" "$dir/pause.tar"
  fi
}

model_images() { # the example model servers' images, imported into this cluster; their refs go to the env file
  local s=$(date +%s%N)
  MODEL_IMAGES=$(MODELPLANE_CONTAINERD_SOCKET=$SOCK "$here/build-model-images.sh" 2>"$L/model-images.log") ||
    fail_step "step 'example model images'" "$L/model-images.log"
  say "example model images built and imported in $(( ($(date +%s%N) - s) / 1000000 )) ms: $(echo $MODEL_IMAGES | awk '{for (i = 2; i <= NF; i += 2) printf "%s ", $i}')"
}

# --- host -------------------------------------------------------------------------------------------------------
packages() {
  local missing=""
  command -v containerd >/dev/null || missing+=" containerd"
  command -v runc >/dev/null || missing+=" runc"
  [ -x /usr/lib/cni/bridge ] || missing+=" containernetworking-plugins"
  command -v etcd >/dev/null || missing+=" etcd-server"
  command -v iptables >/dev/null || missing+=" iptables"
  command -v conntrack >/dev/null || missing+=" conntrack"
  command -v openssl >/dev/null || missing+=" openssl"
  command -v ip >/dev/null || missing+=" iproute2"
  command -v curl >/dev/null || missing+=" curl"
  command -v gcc >/dev/null || missing+=" gcc libc6-dev"
  [ -z "$missing" ] && return 0
  command -v apt-get >/dev/null || die "missing packages:$missing (and no apt-get to install them)"
  say "installing Debian packages:$missing"
  run_step "apt-get update" "$D/apt.log" apt-get update -q
  run_step "apt-get install" "$D/apt-install.log" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

record_sysctls() {
  [ -f "$D/sysctl-before" ] && return 0
  local k
  for k in $SYSCTLS; do
    [ -r "/proc/sys/${k//.//}" ] && echo "$k $(cat "/proc/sys/${k//.//}")"
  done >"$D/sysctl-before.tmp"
  mv "$D/sysctl-before.tmp" "$D/sysctl-before"
}

node_ip() { # the address of the default route's interface (no traffic is sent)
  local ip
  ip=$(ip -4 -o route get 192.0.2.255 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
  [ -n "$ip" ] || ip=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
  [ -n "$ip" ] || die "no global IPv4 address for the node"
  echo "$ip"
}

write_env() {
  cat >"$D/env" <<EOF
# the modelplane test cluster, written by scripts/kubernetes/cluster.sh up at $(date -u +%FT%TZ)
MODELPLANE_CLUSTER_DIR=$D
MODELPLANE_KUBECONFIG=$P/admin.kubeconfig
MODELPLANE_CONTAINERD_SOCKET=$SOCK
MODELPLANE_KUBE_BIN=$KUBE_BIN
MODELPLANE_KUBE_NODE=$NODE
MODELPLANE_POD_CIDR=$POD_CIDR
MODELPLANE_SERVICE_CIDR=$SERVICE_CIDR
EOF
  # MODELPLANE_IMAGE_SENTIMENT_V1=localhost/modelplane/sentiment-v1:dev, ...
  echo "$MODEL_IMAGES" | while read -r name ref; do
    [ -n "$name" ] && echo "MODELPLANE_IMAGE_$(echo "$name" | tr 'a-z-' 'A-Z_')=$ref"
  done >>"$D/env"
  mkdir -p "$MODELPLANE_CLUSTER_RECORD"
  cp "$D/env" "$MODELPLANE_CLUSTER_RECORD/env.tmp"
  chmod 644 "$MODELPLANE_CLUSTER_RECORD/env.tmp"
  mv "$MODELPLANE_CLUSTER_RECORD/env.tmp" "$MODELPLANE_CLUSTER_RECORD/env"
}

# --- up -----------------------------------------------------------------------------------------------------------
up() {
  [ "$(id -u)" = 0 ] || die "must run as root (it starts containerd and the kubelet)"
  mkdir -p "$D" "$L"
  lock
  local other
  other=$(record_dir || true)
  if [ -n "$other" ]; then
    if healthy "$other"; then
      if [ "$other" = "$D" ]; then
        model_images
        write_env
        say "cluster already up ($D); kubeconfig $P/admin.kubeconfig"
        return 0
      fi
      [ "${MODELPLANE_CLUSTER_REUSE:-1}" = 1 ] || die "a cluster started from $other is running on this machine (MODELPLANE_CLUSTER_REUSE=0)"
      # its binaries are not built again here (~16-30 min of CPU): the running cluster's are used
      say "a cluster started from $other is already running on this machine: using it (env $MODELPLANE_CLUSTER_ENV_FILE)"
      say "importing this checkout's example model images into it"
      SOCK=$(sed -n 's/^MODELPLANE_CONTAINERD_SOCKET=//p' "$MODELPLANE_CLUSTER_ENV_FILE")
      model_images
      return 0
    fi
    say "the cluster recorded in $MODELPLANE_CLUSTER_RECORD ($other) is not healthy: taking it down first"
    down_dir "$other"
  fi

  say "bringing up the test cluster in $D (Kubernetes $KUBE_VERSION, pods $POD_CIDR, services $SERVICE_CIDR)"
  packages
  "$here/build-binaries.sh"
  NODE_IP=$(node_ip)
  run_step "certificates (pki in $P)" "$L/pki.log" "$here/pki.sh" "$P" "$NODE" "$NODE_IP" "$SERVICE_IP"
  write_configs
  run_step "pause image" "$L/pause-image.log" pause_image

  # from here on the host is changed: record it so that `down` (from any checkout) can undo it
  record_sysctls
  mkdir -p "$MODELPLANE_CLUSTER_RECORD" "$R/pod-logs"
  echo "$D" >"$MODELPLANE_CLUSTER_RECORD/dir"
  echo 1 >/proc/sys/net/ipv4/ip_forward
  echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables

  start etcd etcd --name modelplane --data-dir "$R/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster modelplane=http://127.0.0.1:2380
  start containerd containerd --config "$E/containerd.toml"
  wait_for "etcd healthy" 60 etcd curl -sf http://127.0.0.1:2379/health
  start kube-apiserver "$KUBE_BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --advertise-address="$NODE_IP" --bind-address=0.0.0.0 --secure-port=6443 --anonymous-auth=false \
    --service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true \
    --client-ca-file="$P/ca.crt" --tls-cert-file="$P/apiserver.crt" --tls-private-key-file="$P/apiserver.key" \
    --kubelet-client-certificate="$P/apiserver-kubelet-client.crt" --kubelet-client-key="$P/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$P/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$P/sa.pub" --service-account-signing-key-file="$P/sa.key" \
    --authorization-mode=Node,RBAC --profiling=false
  wait_for "containerd serving" 60 containerd ctr -a "$SOCK" version
  run_step "pause image imported" "$L/import.log" ctr -a "$SOCK" -n k8s.io images import "$KUBE_CACHE/images/pause.tar"
  wait_for "kube-apiserver ready" 120 kube-apiserver kubectl_ get --raw /readyz
  start kube-controller-manager "$KUBE_BIN/kube-controller-manager" --kubeconfig="$P/controller-manager.kubeconfig" \
    --authentication-kubeconfig="$P/controller-manager.kubeconfig" --authorization-kubeconfig="$P/controller-manager.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt" \
    --cluster-signing-cert-file="$P/ca.crt" --cluster-signing-key-file="$P/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --flex-volume-plugin-dir="$R/kcm-flex"
  start kube-scheduler "$KUBE_BIN/kube-scheduler" --kubeconfig="$P/scheduler.kubeconfig" \
    --authentication-kubeconfig="$P/scheduler.kubeconfig" --authorization-kubeconfig="$P/scheduler.kubeconfig" \
    --bind-address=127.0.0.1 --leader-elect=false
  start kubelet "$KUBE_BIN/kubelet" --config="$E/kubelet.yaml" --kubeconfig="$P/kubelet.kubeconfig" \
    --root-dir="$R/kubelet" --cert-dir="$R/kubelet/pki" --node-ip="$NODE_IP" --hostname-override="$NODE" -v=1
  start kube-proxy "$KUBE_BIN/kube-proxy" --kubeconfig="$P/kube-proxy.kubeconfig" --hostname-override="$NODE" \
    --cluster-cidr="$POD_CIDR" --proxy-mode=iptables --bind-address=127.0.0.1 \
    --metrics-bind-address=127.0.0.1:10249 --healthz-bind-address=127.0.0.1:10256 \
    --iptables-localhost-nodeports=false \
    --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0s --conntrack-tcp-timeout-close-wait=0s
  wait_for "node $NODE registered" 90 kubelet kubectl_ get node "$NODE"
  wait_for "node $NODE Ready" 120 kubelet node_ready
  wait_for "default service account (pods admissible)" 90 kube-controller-manager kubectl_ get serviceaccount default -n default
  model_images
  write_env
  say "cluster up: kubeconfig $P/admin.kubeconfig, env $MODELPLANE_CLUSTER_ENV_FILE"
}
node_ready() { [ "$(kubectl_ get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]; }

# --- down ---------------------------------------------------------------------------------------------------------
down_dir() { # dir: stop the cluster started from dir and undo its changes to the host
  local dir=$1 c t
  local ctr_="ctr -a $dir/run/containerd/containerd.sock -n k8s.io"
  say "taking down the cluster of $dir"
  # the kubelet first, so that it does not restart what is being stopped
  for c in kube-proxy kubelet kube-scheduler kube-controller-manager; do stop "$dir" "$c" & done; wait
  if running "$dir" containerd; then
    for t in $($ctr_ tasks ls -q 2>/dev/null); do $ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true; done
    for t in $($ctr_ tasks ls -q 2>/dev/null); do
      for _ in $(seq 1 20); do $ctr_ tasks delete -f "$t" >/dev/null 2>&1 && break; sleep 0.1; done
    done
    for c in $($ctr_ containers ls -q 2>/dev/null); do $ctr_ containers delete "$c" >/dev/null 2>&1 || true; done
    say "pod containers removed"
  fi
  stop "$dir" kube-apiserver & stop "$dir" containerd & wait
  stop "$dir" etcd
  # shims still serving this containerd (a pod whose task could not be deleted)
  local p
  for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $dir/run/containerd/containerd.sock" || true); do
    kill -9 "$p" 2>/dev/null && say "killed leftover shim $p"
  done
  # mounts under the cluster directory, deepest first: netns, rootfs overlays, shm, secret/token tmpfs
  local m n=0
  for m in $(awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null && n=$((n + 1))
  done
  [ $n = 0 ] || say "unmounted $n mounts under $dir"
  # network: the pods' veths on cni0, cni0, and the iptables chains of kube-proxy, the kubelet and CNI
  if [ -d /sys/class/net/cni0 ]; then
    for c in $(ip -o link show master cni0 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do ip link del "$c" 2>/dev/null || true; done
    ip link del cni0 2>/dev/null && say "deleted bridge cni0"
  fi
  local ipt tbl rules chains
  for ipt in iptables ip6tables; do
    for tbl in filter nat mangle; do
      rules=$($ipt -t $tbl -S 2>/dev/null | awk '/^-A/ && /(KUBE-|CNI-)/' | sed 's/^-A/-D/') || true
      while read -r r; do [ -n "$r" ] && eval "$ipt -t $tbl $r" 2>/dev/null || true; done <<<"$rules"
      chains=$($ipt -t $tbl -S 2>/dev/null | awk '/^-N (KUBE-|CNI-)/ {print $2}') || true
      for c in $chains; do $ipt -t $tbl -F "$c" 2>/dev/null || true; done
      for c in $chains; do $ipt -t $tbl -X "$c" 2>/dev/null || true; done
    done
  done
  say "removed KUBE-*/CNI-* iptables rules and chains"
  # cgroups the kubelet made for pods (cgroupfs driver)
  local h
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/unified/; do
    [ -d "${h}kubepods" ] && find "${h}kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  # sysctls as they were before the first `up`
  if [ -f "$dir/sysctl-before" ]; then
    local k v
    while read -r k v; do echo "$v" >"/proc/sys/${k//.//}" 2>/dev/null || true; done <"$dir/sysctl-before"
    rm -f "$dir/sysctl-before"
    say "restored sysctls"
  fi
  # paths the kubelet, libcni and containerd 1.6 hard-code (not configurable)
  find /var/log/containers -maxdepth 1 -lname "$dir/*" -delete 2>/dev/null || true
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock /var/lib/cni/results/modelplane-pods-* /var/lib/cni/results/cni-loopback-*
  rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet /var/lib/cni/results /var/lib/cni /var/log/containers \
    /run/containerd/fifo /run/containerd/s /run/containerd /run/mount 2>/dev/null || true
  # cluster state: the next `up` starts from an empty etcd; the image store and the PKI stay
  rm -rf "$dir/run/etcd" "$dir/run/kubelet" "$dir/run/cni-ipam" "$dir/run/pod-logs" "$dir/run/runc" "$dir/run/runc-v1" "$dir/run/kube-cache" \
    "$dir/run/kubelet-plugins" "$dir/run/kcm-flex" "$dir/run/containerd/state"
  if [ "$(record_dir || true)" = "$dir" ]; then rm -f "$MODELPLANE_CLUSTER_RECORD/dir" "$MODELPLANE_CLUSTER_RECORD/env"; fi
  say "cluster of $dir is down"
}

down() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  lock
  local other
  other=$(record_dir || true)
  if [ -n "$other" ] && [ "$other" != "$D" ]; then
    say "the running cluster was started from $other, not $D: left running"
  elif [ -n "$other" ] || [ -d "$R" ]; then
    down_dir "$D"
  else
    say "no cluster in $D"
  fi
  if [ ! -f "$MODELPLANE_CLUSTER_RECORD/dir" ]; then
    # no cluster left: the lock file goes too (this run still holds it; a run waiting on it proceeds after)
    rm -f "$MODELPLANE_CLUSTER_RECORD/lock" "$MODELPLANE_CLUSTER_RECORD/env"
    rmdir "$MODELPLANE_CLUSTER_RECORD" 2>/dev/null || true
  fi
  if [ "${1:-}" = --purge ] && [ -d "$D" ] && [ "$(record_dir || true)" != "$D" ]; then
    [ -z "$(awk -v d="$D/" 'index($5, d) == 1' /proc/self/mountinfo)" ] || die "mounts left under $D: not deleting it"
    rm -rf "$D"
    say "deleted $D"
  fi
}

status() {
  local dir c
  dir=$(record_dir || true)
  if [ -z "$dir" ]; then echo "no cluster running (no $MODELPLANE_CLUSTER_RECORD/dir)"; return 3; fi
  echo "cluster started from $dir"
  for c in $COMPONENTS; do
    if running "$dir" "$c"; then echo "  $c: running (pid $(pid_of "$dir" "$c"))"; else echo "  $c: NOT running"; fi
  done
  local bin
  bin=$(sed -n 's/^MODELPLANE_KUBE_BIN=//p' "$MODELPLANE_CLUSTER_ENV_FILE" 2>/dev/null || true)
  [ -x "$bin/kubectl" ] && "$bin/kubectl" --kubeconfig "$dir/pki/admin.kubeconfig" --request-timeout=5s get nodes -o wide 2>&1 | sed 's/^/  /'
  echo "  env file: $MODELPLANE_CLUSTER_ENV_FILE"
  healthy "$dir"
}

env_() {
  [ -f "$MODELPLANE_CLUSTER_ENV_FILE" ] || die "no cluster running (no $MODELPLANE_CLUSTER_ENV_FILE); start one with $0 up"
  grep '^MODELPLANE_' "$MODELPLANE_CLUSTER_ENV_FILE" | sed 's/^/export /'
  echo "export MODELPLANE_CLUSTER_ENV_FILE=$MODELPLANE_CLUSTER_ENV_FILE"
  echo "export PATH=\"$KUBE_BIN:\$PATH\""
}

case "${1:-}" in
  up) up ;;
  down) shift; down "$@" ;;
  status) status ;;
  env) env_ ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
