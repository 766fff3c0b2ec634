#!/usr/bin/env bash
# Builds the test cluster's PostgreSQL image from this machine's Debian PostgreSQL 15 (the `postgresql`
# package .ci/run installs): the server programs, their libraries, share files and UTC zone data, with
# a Node entry point (postgres-image/entry.mjs) that does what the official image's does for
# examples/kubernetes (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA). No registry, no download.
#   scripts/kubernetes/build-postgres-image.sh [--no-import] [--node PATH]   # prints the reference
# localhost/modelplane/postgres:15 (MODELPLANE_POSTGRES_IMAGE overrides). initdb and postgres run as
# uid/gid 999 (`postgres` in the image's /etc/passwd): PostgreSQL refuses to run as root.
# /bin/sh is the machine's (dash): initdb runs `postgres -V` and its bootstrap through popen().
# pg_isready is also on PATH (/usr/bin): the example's probes run it by name.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
ref=${MODELPLANE_POSTGRES_IMAGE:-localhost/modelplane/postgres:15}
pg=/usr/lib/postgresql/15
[ -x $pg/bin/postgres ] || die "build-postgres-image: no $pg/bin/postgres (apt-get install postgresql)"
etc=$(mktemp -d)
trap 'rm -rf "$etc"' EXIT
printf 'root:x:0:0:root:/root:/sbin/nologin\npostgres:x:999:999:PostgreSQL:/var/lib/postgresql:/sbin/nologin\n' >"$etc/passwd"
printf 'root:x:0:\npostgres:x:999:\n' >"$etc/group"
mkdir -p "$etc/empty"
args=(--env TZ=UTC --env LANG=C --env PGDATA=/var/lib/postgresql/data
  --add "$pg/bin/postgres:$pg/bin/postgres" --add "$pg/bin/initdb:$pg/bin/initdb" --add "$pg/bin/pg_isready:$pg/bin/pg_isready" --add "$pg/bin/pg_isready:/usr/bin/pg_isready"
  --add "$pg/lib:$pg/lib" --add "/usr/share/postgresql/15:/usr/share/postgresql/15"
  --add "/usr/share/zoneinfo/UTC:/usr/share/zoneinfo/UTC" --add "/usr/share/zoneinfo/Etc/UTC:/usr/share/zoneinfo/Etc/UTC"
  --add "$(readlink -f /bin/sh):/bin/sh" --libs-of "$(readlink -f /bin/sh)"
  --add "$etc/passwd:/etc/passwd" --add "$etc/group:/etc/group" --add "$etc/empty:/var/run/postgresql"
  --libs-of "$pg/bin/postgres" --libs-of "$pg/bin/initdb" --libs-of "$pg/bin/pg_isready")
"$here/build-image.sh" "${args[@]}" "$@" "$here/postgres-image" "$ref" -- node /app/entry.mjs
