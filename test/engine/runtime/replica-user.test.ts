import type { Stats } from "node:fs";
import { describe, expect, it } from "vitest";
import { replicaEnvironment } from "../../../engine/runtime/process/replica-env.js";
import { defaultReplicaUser, lookupUser, replicaAccessProblem, type ReplicaUser } from "../../../engine/runtime/process/replica-user.js";

const PASSWD = ["root:x:0:0:root:/root:/bin/bash", "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin", ""].join("\n");
const NOBODY: ReplicaUser = { name: "nobody", uid: 65534, gid: 65534, home: "/nonexistent" };

/** A fake file system: path → [mode, uid, isFile]. */
function fakeStat(tree: Record<string, [number, number, boolean]>) {
  return (path: string): Stats | undefined => {
    const entry = tree[path];
    if (entry === undefined) return undefined;
    const [mode, uid, isFile] = entry;
    return { mode, uid, gid: uid, isFile: () => isFile } as Stats;
  };
}

describe("replica environment and user (finding 3)", () => {
  it("passes only the allow-list of the engine's environment, then the spec's env and secrets, then PORT", () => {
    const engineEnv = { PATH: "/usr/bin", HOME: "/root", LANG: "C.UTF-8", TZ: "UTC", MODELPLANE_API_KEY: "k", AWS_SECRET_ACCESS_KEY: "aws", DATABASE_URL: "postgres://u:pw@h/db", LD_LIBRARY_PATH: "/opt/cuda" };
    const env = replicaEnvironment(engineEnv, { env: { ENVIRONMENT: "production", LANG: "fr_FR.UTF-8" }, secrets: { HF_TOKEN: "hf" } }, 8123);
    expect(env).toEqual({ PATH: "/usr/bin", HOME: "/root", LANG: "fr_FR.UTF-8", TZ: "UTC", ENVIRONMENT: "production", HF_TOKEN: "hf", PORT: "8123" });
    expect(replicaEnvironment(engineEnv, { env: {}, secrets: {} }, 1, { passThrough: ["LD_LIBRARY_PATH"], overrides: { HOME: "/nonexistent" } })).toMatchObject({
      LD_LIBRARY_PATH: "/opt/cuda",
      HOME: "/nonexistent",
    });
    expect(replicaEnvironment({}, { env: {}, secrets: {} }, 1).PATH).toMatch(/\/usr\/bin/);
  });

  it("defaults to an unprivileged user only when the engine is root", () => {
    const lookup = (name: string) => lookupUser(name, PASSWD);
    expect(defaultReplicaUser(0, lookup)).toEqual(NOBODY);
    expect(defaultReplicaUser(1000, lookup)).toBeUndefined();
    expect(lookupUser("65534", PASSWD)).toEqual(NOBODY);
    expect(lookupUser("modelplane-replica", PASSWD)).toBeUndefined();
  });

  it("says which path the replica user cannot reach, before spawning", () => {
    const stat = fakeStat({
      "/": [0o40755, 0, false],
      "/root": [0o40700, 0, false],
      "/root/.cache": [0o40755, 0, false],
      "/root/.cache/node": [0o100755, 0, true],
      "/usr": [0o40755, 0, false],
      "/usr/bin": [0o40755, 0, false],
      "/usr/bin/node": [0o100755, 0, true],
      "/tmp": [0o41777, 0, false],
      "/tmp/private": [0o40700, 0, false],
      "/srv": [0o40755, 0, false],
      "/srv/model": [0o40755, 0, false],
    });
    expect(replicaAccessProblem(NOBODY, "node", "/srv/model", "/usr/bin", stat)).toBeUndefined();
    // a PATH entry it cannot reach is skipped, as execvp does
    expect(replicaAccessProblem(NOBODY, "node", undefined, "/root/.cache:/usr/bin", stat)).toBeUndefined();
    expect(replicaAccessProblem(NOBODY, "/root/.cache/node", undefined, "/usr/bin", stat)).toMatch(
      /^replicas run as user nobody \(uid 65534\), which cannot run \/root\/\.cache\/node: \/root is not searchable by it \(mode 0700, owner uid 0\); .*--replica-user$/,
    );
    expect(replicaAccessProblem(NOBODY, "node", "/tmp/private", "/usr/bin", stat)).toMatch(/cannot use the working directory \/tmp\/private: \/tmp\/private is not readable by it \(mode 0700/);
    // missing: left to the spawn's own ENOENT
    expect(replicaAccessProblem(NOBODY, "python", undefined, "/usr/bin", stat)).toBeUndefined();
  });
});
