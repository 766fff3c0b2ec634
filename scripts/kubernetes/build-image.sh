#!/usr/bin/env bash
# Builds a local image of a Node program and imports it into the test cluster's containerd (namespace k8s.io),
# so that pods run it with imagePullPolicy: Never. No registry, no container tool.
#
#   scripts/kubernetes/build-image.sh [options] <dir> <name:tag> -- <entrypoint...>
#
#   <dir>          copied to /app, the working directory
#   <name:tag>     the image reference, e.g. localhost/modelplane/sentiment-v1:dev
#   <entrypoint>   e.g. node sentiment-v1/server.js (PATH=/usr/local/bin:/usr/bin:/bin; node is /usr/local/bin/node)
#   --node PATH    the Node binary to put in the image; default $MODELPLANE_NODE, else the Node that
#                  scripts/bootstrap.sh fetched into $MODELPLANE_CACHE/node-v*/ (when the machine's is too old),
#                  else `node` on PATH. The shared libraries it links are copied too (ldd), at the paths the
#                  loader asks for.
#   --env K=V      an environment variable of the image (repeatable)
#   --add SRC:DEST another file or directory in the image (repeatable), e.g. a program the Node one runs
#   --libs-of BIN  also the shared libraries BIN links (ldd), at their paths (repeatable)
#   --out FILE     where the docker-archive tar goes (default $MODELPLANE_CACHE/kubernetes/images/<name>.tar)
#   --no-import    write the tar only
#
# The image is one layer: /app, node, its libraries, an empty /tmp. Prints the image reference as its last
# line. Importing needs a running cluster (scripts/kubernetes/cluster.sh up). 3-8 s for a 127 MB image (Node 24).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
node_bin=${MODELPLANE_NODE:-$(ls -d "$MODELPLANE_CACHE"/node-v*/bin/node 2>/dev/null | sort -V | tail -1)}
node_bin=${node_bin:-$(command -v node || true)}
out="" import=1 envs=() extra=() libs_of=()
while [ $# -gt 0 ]; do
  case "$1" in
    --node) node_bin=$2; shift 2 ;;
    --env) envs+=(--env "$2"); shift 2 ;;
    --add) extra+=(--add "$2"); shift 2 ;;
    --libs-of) libs_of+=("$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-import) import=0; shift ;;
    --) break ;;
    -*) echo "build-image: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -ge 4 ] && [ "$3" = -- ] || usage
dir=$1 ref=$2; shift 3
[ -d "$dir" ] || die "build-image: $dir is not a directory"
[ -n "$node_bin" ] && [ -x "$node_bin" ] || die "build-image: no Node binary (--node PATH or MODELPLANE_NODE)"
node_bin=$(readlink -f "$node_bin")
case "$ref" in *:*) ;; *) die "build-image: $ref needs a tag (name:tag)" ;; esac

if [ -z "$out" ]; then
  mkdir -p "$KUBE_CACHE/images"
  out=$KUBE_CACHE/images/$(echo "$ref" | tr '/:' '__').tar
fi

# the libraries the dynamic loader resolves for node, at the paths it will look them up
adds=(--add "$dir:/app" --add "$node_bin:/usr/local/bin/node" ${extra[@]+"${extra[@]}"})
while read -r lib; do
  [ -n "$lib" ] && adds+=(--add "$lib:$lib")
done < <(for bin in "$node_bin" ${libs_of[@]+"${libs_of[@]}"}; do ldd "$bin" 2>/dev/null; done \
         | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' | sort -u)

entrypoint=$(node -e 'process.stdout.write(JSON.stringify(process.argv.slice(1)))' -- "$@")
node "$here/image-archive.mjs" --out "$out.tmp" --name "$ref" --workdir /app --entrypoint "$entrypoint" \
  "${envs[@]}" "${adds[@]}" >/dev/null
mv "$out.tmp" "$out"
echo "build-image: wrote $out ($(du -h "$out" | cut -f1), node $("$node_bin" --version))" >&2

if [ $import = 1 ]; then
  sock=${MODELPLANE_CONTAINERD_SOCKET:-}
  if [ -z "$sock" ] && [ -f "$MODELPLANE_CLUSTER_ENV_FILE" ]; then
    sock=$(sed -n 's/^MODELPLANE_CONTAINERD_SOCKET=//p' "$MODELPLANE_CLUSTER_ENV_FILE")
  fi
  [ -n "$sock" ] && [ -S "$sock" ] || die "build-image: no running cluster to import into (scripts/kubernetes/cluster.sh up, or --no-import)"
  ctr -a "$sock" -n k8s.io images import "$out" >/dev/null
  echo "build-image: imported $ref into $sock (namespace k8s.io)" >&2
fi
echo "$ref"
