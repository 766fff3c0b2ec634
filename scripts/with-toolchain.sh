#!/usr/bin/env bash
# with-toolchain.sh '<shell command>' [args…]: runs the command with the toolchain scripts/bootstrap.sh
# provides first on PATH — Node 22+ (Node 24 from the cache when the machine's own node is older)
# and the Pulumi CLI v3.276.0 — so that everything it starts runs on them: tsc, vitest, the
# quickstart, the `pulumi` the Automation API spawns and the dynamic-provider host script, which
# runs `node` from PATH. Extra arguments are appended to the command (`npm test -- test/e2e`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
toolchain="$(bash "$root/scripts/bootstrap.sh")"
node_dir="$(sed -n 's/^node=//p' <<<"$toolchain")"
pulumi_dir="$(sed -n 's/^pulumi=//p' <<<"$toolchain")"
export PATH="$node_dir:$pulumi_dir:$PATH" MODELPLANE_PULUMI_BIN="$pulumi_dir"
command="$1"
shift
exec bash -c "$command"' "$@"' with-toolchain "$@"
