// Entry point of the test cluster's PostgreSQL image (scripts/kubernetes/build-postgres-image.sh): what the
// official image's entrypoint does for examples/kubernetes, with the machine's Debian PostgreSQL binaries.
//
//   POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB   the superuser, its password and a database to create
//   PGDATA                                          the data directory (created and initialised when empty)
//
// Runs as root only to prepare the directories; initdb and postgres run as the image's `postgres` user
// (uid/gid 999, in its /etc/passwd): PostgreSQL refuses to run as root. Clients authenticate over TCP with
// scram-sha-256; the local socket (/var/run/postgresql, where pg_isready looks) trusts local users.
// SIGTERM and SIGINT are passed to postgres (smart / fast shutdown), whose exit code is this process's.
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const BIN = "/usr/lib/postgresql/15/bin";
const UID = 999;
const GID = 999;
const user = process.env.POSTGRES_USER || "postgres";
const database = process.env.POSTGRES_DB || user;
const password = process.env.POSTGRES_PASSWORD;
const pgdata = process.env.PGDATA || "/var/lib/postgresql/data";
const socketDir = "/var/run/postgresql";
const asPostgres = { uid: UID, gid: GID, env: { PATH: `${BIN}:/usr/bin:/bin`, TZ: "UTC", LANG: "C" } };
const say = (line) => process.stdout.write(`postgres-entry: ${line}\n`);

function run(command, args, input) {
  const result = spawnSync(join(BIN, command), args, { ...asPostgres, input, stdio: [input === undefined ? "ignore" : "pipe", "inherit", "inherit"] });
  if (result.status !== 0) {
    say(`${command} ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`})`);
    process.exit(1);
  }
}

if (!password) {
  say("POSTGRES_PASSWORD is empty: refusing to start a database that anyone on the network could use");
  process.exit(1);
}
for (const dir of [pgdata, socketDir]) {
  // the parents stay root's but traversable; the directory itself is postgres's alone (initdb insists)
  mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
  mkdirSync(dir, { recursive: true });
  chownSync(dir, UID, GID);
  chmodSync(dir, 0o700);
}

if (!existsSync(join(pgdata, "PG_VERSION"))) {
  say(`initialising ${pgdata} (superuser ${user}, database ${database})`);
  const pwfile = "/tmp/postgres-password";
  writeFileSync(pwfile, password, { mode: 0o600 });
  chownSync(pwfile, UID, GID);
  run("initdb", ["-D", pgdata, "-U", user, `--pwfile=${pwfile}`, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"]);
  rmSync(pwfile);
  appendFileSync(join(pgdata, "pg_hba.conf"), "\nhost all all 0.0.0.0/0 scram-sha-256\n");
  if (database !== "postgres") {
    // single-user mode: nothing listens yet, so nobody connects before the database exists
    run("postgres", ["--single", "-D", pgdata, "-c", "unix_socket_directories=", "postgres"], `CREATE DATABASE "${database.replaceAll('"', '""')}";\n`);
  }
}

say("starting postgres");
const server = spawn(join(BIN, "postgres"), ["-D", pgdata, "-c", "listen_addresses=*", "-c", `unix_socket_directories=${socketDir}`], {
  ...asPostgres,
  stdio: "inherit",
});
process.on("SIGTERM", () => server.kill("SIGTERM"));
process.on("SIGINT", () => server.kill("SIGINT"));
server.on("exit", (code, signal) => {
  say(`postgres exited (${signal ?? code})`);
  process.exit(code ?? 1);
});
