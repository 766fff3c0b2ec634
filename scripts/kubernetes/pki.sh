#!/usr/bin/env bash
# The single-node cluster's PKI: a CA, the API server's serving certificate, client certificates and
# kubeconfigs for the admin (tests), the controller manager, the scheduler, the kubelet and kube-proxy,
# and the service-account signing key. Idempotent: generated once per cluster directory (~3 s of openssl);
# the API server certificate is re-issued when its names/addresses change.
#   pki.sh DIR NODE_NAME NODE_IP SERVICE_IP
set -euo pipefail
dir=$1 node=$2 node_ip=$3 service_ip=$4
mkdir -p "$dir"
cd "$dir"
umask 077

sign() { # name subject extfile
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 3650 -extfile "$3" 2>/dev/null
  rm -f "$1.csr"
}
kubeconfig() { # name user
  cat >"$1.kubeconfig" <<EOT
apiVersion: v1
kind: Config
clusters:
- name: modelplane
  cluster: {certificate-authority: $dir/ca.crt, server: "https://127.0.0.1:6443"}
users:
- name: $2
  user: {client-certificate: $dir/$1.crt, client-key: $dir/$1.key}
contexts:
- name: modelplane
  context: {cluster: modelplane, user: $2}
current-context: modelplane
EOT
}

if [ ! -f ca.crt ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 -subj "/CN=modelplane-test-cluster-ca" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >client.ext
  sign admin "/O=system:masters/CN=modelplane-admin" client.ext
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" client.ext
  sign controller-manager "/CN=system:kube-controller-manager" client.ext
  sign scheduler "/CN=system:kube-scheduler" client.ext
  sign kube-proxy "/CN=system:kube-proxy" client.ext
  openssl genrsa -out sa.key 2048 2>/dev/null
  openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
fi

# names the API server answers to: loopback (kubeconfigs), the node address, and the `kubernetes` service
# (the first address of the service range, which pods use for in-cluster configuration)
cat >apiserver.ext.new <<EOT
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:$node,IP:127.0.0.1,IP:$service_ip,IP:$node_ip
EOT
if ! cmp -s apiserver.ext.new apiserver.ext; then
  mv apiserver.ext.new apiserver.ext
  sign apiserver "/CN=kube-apiserver" apiserver.ext
else
  rm apiserver.ext.new
fi
if [ ! -f "kubelet-$node.crt" ]; then
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth,serverAuth\nsubjectAltName=DNS:%s,IP:%s,IP:127.0.0.1\n' "$node" "$node_ip" >kubelet.ext
  sign "kubelet-$node" "/O=system:nodes/CN=system:node:$node" kubelet.ext
fi
cp "kubelet-$node.crt" kubelet.crt; cp "kubelet-$node.key" kubelet.key
kubeconfig admin modelplane-admin
kubeconfig controller-manager system:kube-controller-manager
kubeconfig scheduler system:kube-scheduler
kubeconfig kubelet "system:node:$node"
kubeconfig kube-proxy system:kube-proxy
