#!/usr/bin/env bash
# Builds the modelplane engine's image like the model images (build-image.sh): /app holds the compiled
# package (dist/, package.json) and the npm packages it needs at run time — package-lock.json's
# non-dev packages, nothing of Pulumi or the test tools — and the entry point is the CLI:
# `node /app/dist/cli/main.js` (examples/kubernetes runs `… serve --runtime kubernetes …`).
#   scripts/kubernetes/build-engine-image.sh [--no-import] [--node PATH]   # prints the reference
# localhost/modelplane/engine:dev (MODELPLANE_ENGINE_IMAGE overrides). Run `npx tsc -p tsconfig.json`
# first: the image takes dist/ as it is.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
ref=${MODELPLANE_ENGINE_IMAGE:-localhost/modelplane/engine:dev}
[ -f "$root/dist/cli/main.js" ] || die "build-engine-image: no dist/cli/main.js (npx tsc -p tsconfig.json first)"
# A directory of symbolic links (the archive follows them): dist/, package.json and each top-level
# package that package-lock.json does not mark dev-only.
app=$(mktemp -d)
chmod 755 "$app"   # /app: the engine runs as uid 1000
trap 'rm -rf "$app"' EXIT
ln -s "$root/dist" "$app/dist"
ln -s "$root/package.json" "$app/package.json"
mkdir -p "$app/node_modules"
node -e '
  const lock = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (/^node_modules\/(@[^/]+\/)?[^/]+$/.test(path) && !entry.dev && !entry.link) console.log(path.slice("node_modules/".length));
  }' "$root/package-lock.json" | while read -r package; do
  [ -d "$root/node_modules/$package" ] || continue   # optional packages of another platform
  mkdir -p "$app/node_modules/$(dirname "$package")"
  ln -s "$root/node_modules/$package" "$app/node_modules/$package"
done
"$here/build-image.sh" "$@" "$app" "$ref" -- node /app/dist/cli/main.js
