#!/usr/bin/env bash
# Prints what the test cluster may change on the host, normalized for `diff`: run it before `cluster.sh up`
# and after `cluster.sh down`; no difference means `down` undid everything.
#   scripts/kubernetes/host-state.sh > before; … up … down …; scripts/kubernetes/host-state.sh | diff before -
set -uo pipefail
. "$(dirname "$0")/lib.sh"
echo "## sysctls"
for k in vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys \
  kernel.keys.root_maxbytes net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables \
  net.ipv4.conf.all.route_localnet net.netfilter.nf_conntrack_max net.netfilter.nf_conntrack_tcp_timeout_established \
  net.netfilter.nf_conntrack_tcp_timeout_close_wait; do
  echo "$k = $(cat "/proc/sys/${k//.//}" 2>/dev/null)"
done
echo "## links"; ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort
echo "## addresses"; ip -o addr show | awk '{print $2, $4}' | sort
echo "## routes"; ip route show | sort
for t in filter nat mangle raw; do
  echo "## iptables $t"; iptables -t "$t" -S 2>/dev/null
  echo "## ip6tables $t"; ip6tables -t "$t" -S 2>/dev/null
done
echo "## mounts"; awk '{print $5, $9}' /proc/self/mountinfo | sort
echo "## cgroups"; find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -not -path "*/process_api*" 2>/dev/null | sort
echo "## paths"
find /etc /var/lib /var/log /run /opt /root/.kube -maxdepth 3 \( -path /run/user -o -path '/var/lib/apt/*' -o -path '/var/lib/dpkg/*' -o -path '/var/log/journal*' \) -prune -o -print 2>/dev/null \
  | grep -v -e '^/var/lib/postgresql' -e '^/run/postgresql' -e '^/var/log/postgresql' | sort
echo "## cluster processes"
ps -eo stat=,comm= | awk '$1 !~ /^Z/ {print $2}' | grep -E '^(etcd|containerd|containerd-shim|kube-|kubelet|runc|pause)' | sort | uniq -c
