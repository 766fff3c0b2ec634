/**
 * One secret key for the engines sharing a PostgreSQL (engine/store/secret-key-check.ts): the
 * verdict as a table, then the start of real stores — a second engine with another key stops at
 * start before any secret exists (issue 14: with its own key it could not build the replica sets of
 * environments with secrets written through the first), naming both key ids.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { judgeSharedKey, type SharedKeyVerdict } from "../../../engine/store/secret-key-check.js";
import { generateSecretKey, openStore, parseSecretKeyring, SecretKeyError } from "../../../engine/store/index.js";
import { postgresUnavailableReason, startTestPostgres, type TestPostgres } from "../../support/postgres.js";

describe("judgeSharedKey", () => {
  const ring = (...keyIds: string[]) => ({ currentKeyId: keyIds[0]!, keyIds });
  const cases: Array<[string, string | undefined, ReturnType<typeof ring>, SharedKeyVerdict]> = [
    ["nothing recorded: this engine's key becomes the database's", undefined, ring("k1"), { kind: "record" }],
    ["the same key", "k1", ring("k1"), { kind: "agree" }],
    ["the same key, an older one kept after it", "k1", ring("k1", "k0"), { kind: "agree" }],
    ["this engine rotated: its new key first, the recorded one after", "k1", ring("k2", "k1"), { kind: "rotate", from: "k1" }],
    ["another key", "k1", ring("k2"), { kind: "refuse", recorded: "k1" }],
    ["another key, with an unrelated older one", "k1", ring("k2", "k0"), { kind: "refuse", recorded: "k1" }],
  ];
  it.each(cases)("%s", (_what, recorded, keyring, verdict) => {
    expect(judgeSharedKey(recorded, keyring)).toEqual(verdict);
  });
});

const postgresUnavailable = postgresUnavailableReason();
let postgres: TestPostgres | undefined;
let scratch: string;
let databases = 0;

beforeAll(async () => {
  if (postgresUnavailable) return;
  scratch = await mkdtemp(join(tmpdir(), "modelplane-key-check-"));
  postgres = await startTestPostgres();
});
afterAll(async () => {
  await postgres?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Open a store on `databaseUrl` with `secretKey` (a data dir of its own, as a second engine has), close it; its log, or the error. */
async function start(databaseUrl: string, secretKey: string): Promise<{ log: string[] } | { error: unknown }> {
  const log: string[] = [];
  try {
    const sql = await openStore({ dataDir: await mkdtemp(join(scratch, "engine-")), databaseUrl, secretKey, log: (line) => log.push(line) });
    await sql.close();
    return { log };
  } catch (error) {
    return { error };
  }
}

describe.skipIf(postgresUnavailable !== undefined)("engines sharing a PostgreSQL agree on one secret key", () => {
  const KEY_A = generateSecretKey();
  const KEY_B = generateSecretKey();
  const idOf = (key: string) => parseSecretKeyring(key, "test").currentKeyId;

  it("a second engine with another key stops at start, before any secret exists, naming both keys; with the same key it starts", async () => {
    const databaseUrl = await postgres!.createDatabase(`key_check_${++databases}`);
    expect(await start(databaseUrl, KEY_A)).toHaveProperty("log");
    const refused = await start(databaseUrl, KEY_B);
    expect(refused).toHaveProperty("error");
    const error = (refused as { error: unknown }).error;
    expect(error).toBeInstanceOf(SecretKeyError);
    expect(String(error)).toContain(`encrypt secrets with key ${idOf(KEY_A)}, which is not among this engine's keys (${idOf(KEY_B)} from the key given)`);
    expect(await start(databaseUrl, KEY_A)).toHaveProperty("log");
  });

  it("a rotation moves the database to the new key: the old key alone is refused after, the new one with or without the old is not", async () => {
    const databaseUrl = await postgres!.createDatabase(`key_check_${++databases}`);
    expect(await start(databaseUrl, KEY_A)).toHaveProperty("log");
    const rotated = await start(databaseUrl, `${KEY_B},${KEY_A}`);
    expect((rotated as { log: string[] }).log.join("\n")).toContain(`now write with it instead of ${idOf(KEY_A)}`);
    expect(String((await start(databaseUrl, KEY_A) as { error: unknown }).error)).toContain(`encrypt secrets with key ${idOf(KEY_B)}`);
    expect(await start(databaseUrl, KEY_B)).toHaveProperty("log");
  });
});
