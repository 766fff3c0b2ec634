import { readFileSync, statSync, type Stats } from "node:fs";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";

/**
 * The unprivileged user replicas run as when the engine runs as root. Same-user processes can
 * read each other's /proc/<pid>/environ and the engine's data dir (its database, its key files):
 * a replica running as root could read everything the engine holds.
 */
export interface ReplicaUser {
  name: string;
  uid: number;
  gid: number;
  /** from the passwd entry: the replica's HOME (the engine's HOME would be root's) */
  home: string;
}

/** Users tried, in order, when the engine runs as root and no --replica-user is given. */
export const DEFAULT_REPLICA_USERS: readonly string[] = ["modelplane-replica", "nobody"];

/** One line of /etc/passwd as a ReplicaUser, when it names `name` (or its uid is `name`). */
export function parsePasswdEntry(line: string, name: string): ReplicaUser | undefined {
  const [user, , uid, gid, , home] = line.split(":");
  if (user === undefined || uid === undefined || gid === undefined) return undefined;
  if (user !== name && uid !== name) return undefined;
  const uidNumber = Number(uid);
  const gidNumber = Number(gid);
  if (!Number.isInteger(uidNumber) || !Number.isInteger(gidNumber)) return undefined;
  return { name: user, uid: uidNumber, gid: gidNumber, home: home || "/" };
}

/** Look a user up by name or uid in /etc/passwd; undefined when there is no such user. */
export function lookupUser(name: string, passwd: string = readFileSync("/etc/passwd", "utf8")): ReplicaUser | undefined {
  for (const line of passwd.split("\n")) {
    const user = parsePasswdEntry(line, name);
    if (user !== undefined) return user;
  }
  return undefined;
}

/** The user replicas run as by default: the first of DEFAULT_REPLICA_USERS that exists, when the
 * engine runs as root; undefined otherwise (replicas then run as the engine's own user). */
export function defaultReplicaUser(engineUid: number | undefined, lookup: (name: string) => ReplicaUser | undefined = lookupUser): ReplicaUser | undefined {
  if (engineUid !== 0) return undefined;
  for (const name of DEFAULT_REPLICA_USERS) {
    const user = lookup(name);
    if (user !== undefined && user.uid !== 0) return user;
  }
  return undefined;
}

type StatFn = (path: string) => Stats | undefined;

const statOrUndefined: StatFn = (path) => {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
};

/** Whether `user` (its uid and primary group: replicas get no supplementary groups) has `bits`
 * (4 read, 2 write, 1 execute/search) on a file with these stats. */
function allowed(stats: Stats, user: ReplicaUser, bits: number): boolean {
  const shift = stats.uid === user.uid ? 6 : stats.gid === user.gid ? 3 : 0;
  return ((stats.mode >> shift) & bits) === bits;
}

function describeMode(stats: Stats): string {
  return `mode ${(stats.mode & 0o777).toString(8).padStart(4, "0")}, owner uid ${stats.uid}`;
}

/** Why `user` cannot reach `path` (search permission on each directory above it), or undefined. */
function unreachable(path: string, user: ReplicaUser, stat: StatFn): string | undefined {
  let dir = dirname(path);
  const dirs: string[] = [];
  for (;;) {
    dirs.unshift(dir);
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const each of dirs) {
    const stats = stat(each);
    if (stats !== undefined && !allowed(stats, user, 1)) return `${each} is not searchable by it (${describeMode(stats)})`;
  }
  return undefined;
}

/**
 * Why a replica running as `user` could not start with this working directory and executable, in
 * the operator's terms, or undefined when it can. Checked before spawning: the child's own error
 * would be a bare EACCES (or, for a PATH lookup, a silent fall-through to another binary).
 */
export function replicaAccessProblem(
  user: ReplicaUser,
  executable: string,
  cwd: string | undefined,
  pathVariable: string,
  stat: StatFn = statOrUndefined,
): string | undefined {
  const advice = `make it readable by that user, or choose the user with --replica-user`;
  if (cwd !== undefined) {
    const dir = resolve(cwd);
    const stats = stat(dir);
    if (stats !== undefined) {
      const why = unreachable(join(dir, "."), user, stat) ?? (allowed(stats, user, 5) ? undefined : `${dir} is not readable by it (${describeMode(stats)})`);
      if (why !== undefined) return `replicas run as user ${user.name} (uid ${user.uid}), which cannot use the working directory ${dir}: ${why}; ${advice}`;
    }
  }
  const candidates = executable.includes("/")
    ? [isAbsolute(executable) ? executable : resolve(cwd ?? process.cwd(), executable)]
    : pathVariable.split(delimiter).filter((dir) => dir !== "").map((dir) => join(dir, executable));
  const problems: string[] = [];
  for (const candidate of candidates) {
    const stats = stat(candidate);
    if (stats === undefined || !stats.isFile()) continue;
    const why = unreachable(candidate, user, stat) ?? (allowed(stats, user, 1) ? undefined : `${candidate} is not executable by it (${describeMode(stats)})`);
    if (why === undefined) return undefined;
    problems.push(why);
  }
  // not found at all: the spawn reports ENOENT as it always has
  if (problems.length === 0) return undefined;
  return `replicas run as user ${user.name} (uid ${user.uid}), which cannot run ${executable}: ${problems.join("; ")}; ${advice}`;
}
