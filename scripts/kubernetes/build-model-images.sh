#!/usr/bin/env bash
# Builds an image of each example model server (examples/models/<name>/server.js, with examples/models/shared)
# and imports it into the running test cluster: localhost/modelplane/<name>:dev, entrypoint
# `node <name>/server.js`, HOST=0.0.0.0 (the pod address), PORT 8080 (the server's default).
# `cluster.sh up` runs it; run it again after changing a model. Prints one "NAME REF" line per image.
#   scripts/kubernetes/build-model-images.sh [--node PATH] [--no-import]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
models=$(cd "$here/../../examples/models" && pwd)
for server in "$models"/*/server.js; do
  name=$(basename "$(dirname "$server")")
  ref=$("$here/build-image.sh" --env HOST=0.0.0.0 "$@" "$models" "localhost/modelplane/$name:dev" -- node "$name/server.js")
  echo "$name $ref"
done
