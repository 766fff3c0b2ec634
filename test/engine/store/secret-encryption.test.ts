/**
 * Issue 13 finding 5: secret values are encrypted at rest (AES-256-GCM, key id with each value)
 * on both stores; a rotated key re-encrypts at start; plain text from before is encrypted at
 * start; a wrong key or an altered value stops the start with a clear error.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTOSCALING_DEFAULTS, defaultPromotionSettings } from "../../../sdk/index.js";
import {
  generateSecretKey,
  insertEnvironment,
  insertModel,
  listVariables,
  openStore,
  parseSecretKeyring,
  resolveSecretKeyring,
  rotateSecretKeyFile,
  SecretKeyError,
  upsertVariable,
  type Sql,
} from "../../../engine/store/index.js";
import { createPgliteTemplate, type PgliteTemplate } from "../../support/pglite-template.js";
import { postgresUnavailableReason, startTestPostgres, type TestPostgres } from "../../support/postgres.js";

const at = "2026-01-01T00:00:00.000Z";
const SECRET = "hf_plaintext-secret-value-5e1f0c";
const KEY_A = generateSecretKey();
const KEY_B = generateSecretKey();
const idOf = (key: string) => parseSecretKeyring(key, "test").currentKeyId;

let template: PgliteTemplate;
let postgres: TestPostgres | undefined;
let scratch: string;
let databases = 0;
const postgresUnavailable = postgresUnavailableReason();

beforeAll(async () => {
  template = await createPgliteTemplate();
  scratch = await mkdtemp(join(tmpdir(), "modelplane-secret-enc-"));
  if (!postgresUnavailable) postgres = await startTestPostgres();
});
afterAll(async () => {
  await template?.cleanup();
  await postgres?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

interface StoreUnderTest {
  /** a place (data dir, and a database for PostgreSQL) reopenable with other keys */
  newPlace(): Promise<{ dataDir: string; databaseUrl?: string }>;
}

const STORES: [string, StoreUnderTest][] = [
  ["PGlite", { newPlace: async () => ({ dataDir: await template.freshDataDir() }) }],
  [
    "PostgreSQL",
    {
      newPlace: async () => ({
        dataDir: await mkdtemp(join(scratch, "pg-")),
        databaseUrl: await postgres!.createDatabase(`secrets_${++databases}`),
      }),
    },
  ],
];

async function withStore<T>(place: { dataDir: string; databaseUrl?: string }, secretKey: string, fn: (sql: Sql, log: string[]) => Promise<T>): Promise<T> {
  const log: string[] = [];
  const sql = await openStore({ ...place, secretKey, log: (line) => log.push(line) });
  try {
    return await fn(sql, log);
  } finally {
    await sql.close();
  }
}

async function seedEnvironment(sql: Sql): Promise<string> {
  await insertModel(sql, { id: "mdl_s", name: "secrets", at });
  await insertEnvironment(sql, {
    id: "env_s",
    modelId: "mdl_s",
    name: "production",
    autoscalingSettings: { ...AUTOSCALING_DEFAULTS },
    inlinePromotionSettings: defaultPromotionSettings(),
    promotionSettingsId: null,
    at,
  });
  return "env_s";
}

const rawRows = (sql: Sql) =>
  sql.query<{ name: string; value: string; secret: boolean; key_id: string | null }>("SELECT name, value, secret, key_id FROM variables ORDER BY name");

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((entry) => join(dir, entry))
    .filter((path) => statSync(path).isFile());
}

for (const [label, store] of STORES) {
  describe.skipIf(label === "PostgreSQL" && postgresUnavailable !== undefined)(`secrets at rest on ${label} (finding 5)`, () => {
    it("stores a secret as AES-GCM ciphertext with its key id; plain variables stay plain; reads decrypt", async () => {
      const place = await store.newPlace();
      await withStore(place, KEY_A, async (sql) => {
        const environmentId = await seedEnvironment(sql);
        const { row } = await upsertVariable(sql, { environmentId, name: "HF_TOKEN", value: SECRET, secret: true, at });
        expect(row.value).toBe(SECRET);
        await upsertVariable(sql, { environmentId, name: "LOG_LEVEL", value: "debug", secret: false, at });
        await upsertVariable(sql, { environmentId, name: "OTHER_TOKEN", value: SECRET, secret: true, at });
        const raw = await rawRows(sql);
        const token = raw.find((variable) => variable.name === "HF_TOKEN")!;
        expect(token.key_id).toBe(idOf(KEY_A));
        expect(token.value).not.toContain(SECRET);
        expect(Buffer.from(token.value, "base64").length).toBe(12 + 16 + Buffer.byteLength(SECRET));
        // a random IV per value: the same secret twice gives two ciphertexts
        expect(raw.find((variable) => variable.name === "OTHER_TOKEN")!.value).not.toBe(token.value);
        expect(raw.find((variable) => variable.name === "LOG_LEVEL")).toMatchObject({ value: "debug", key_id: null });
        expect((await listVariables(sql, environmentId)).map(({ name, value }) => [name, value])).toEqual([
          ["HF_TOKEN", SECRET],
          ["LOG_LEVEL", "debug"],
          ["OTHER_TOKEN", SECRET],
        ]);
        // a value-only update keeps it secret, and encrypted
        await upsertVariable(sql, { environmentId, name: "HF_TOKEN", value: `${SECRET}-2`, secret: undefined, at });
        expect((await rawRows(sql)).find((variable) => variable.name === "HF_TOKEN")).toMatchObject({ secret: true, key_id: idOf(KEY_A) });
      });
      if (label === "PGlite") {
        // nowhere in the database's files, WAL included
        for (const file of filesUnder(join(place.dataDir, "pgdata"))) {
          expect(readFileSync(file).includes(SECRET), file).toBe(false);
        }
      }
    });

    it("rotation: a new key first re-encrypts every secret at start; the old key is then no longer needed", async () => {
      const place = await store.newPlace();
      await withStore(place, KEY_A, async (sql) => {
        const environmentId = await seedEnvironment(sql);
        await upsertVariable(sql, { environmentId, name: "HF_TOKEN", value: SECRET, secret: true, at });
      });
      await withStore(place, `${KEY_B},${KEY_A}`, async (sql, log) => {
        expect(log.join("\n")).toContain(`secrets encrypted with key ${idOf(KEY_B)}`);
        expect(log.join("\n")).toContain("re-encrypted 1 secret(s) from older keys");
        expect((await rawRows(sql))[0]).toMatchObject({ key_id: idOf(KEY_B) });
        expect((await listVariables(sql, "env_s"))[0]!.value).toBe(SECRET);
      });
      await withStore(place, KEY_B, async (sql) => {
        expect((await listVariables(sql, "env_s"))[0]!.value).toBe(SECRET);
      });
      // the rotated-out key alone cannot read it: the start stops, naming the key and the secret
      const refused = await openStore({ ...place, secretKey: KEY_A }).then(
        async (sql) => {
          await sql.close();
          return undefined;
        },
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(SecretKeyError);
      expect(String(refused)).toMatch(new RegExp(`HF_TOKEN of environment env_s is encrypted with key ${idOf(KEY_B)}, which is not among this engine's keys \\(${idOf(KEY_A)} from`));
    });

    it("plain-text secrets from before encryption are encrypted at start", async () => {
      const place = await store.newPlace();
      await withStore(place, KEY_A, async (sql) => {
        const environmentId = await seedEnvironment(sql);
        // as an engine before this change wrote it
        await sql.query("INSERT INTO variables (environment_id, name, value, secret, created_at, updated_at) VALUES ($1, 'OLD_TOKEN', $2, true, $3, $3)", [environmentId, SECRET, at]);
      });
      await withStore(place, KEY_A, async (sql, log) => {
        expect(log.join("\n")).toContain("encrypted 1 secret(s) stored in plain text before");
        const [row] = await rawRows(sql);
        expect(row).toMatchObject({ name: "OLD_TOKEN", secret: true, key_id: idOf(KEY_A) });
        expect(row!.value).not.toContain(SECRET);
        expect((await listVariables(sql, "env_s"))[0]!.value).toBe(SECRET);
      });
    });

    it("a value altered in the database, or moved to another row, fails its integrity check with a clear error", async () => {
      const place = await store.newPlace();
      await withStore(place, KEY_A, async (sql) => {
        const environmentId = await seedEnvironment(sql);
        await upsertVariable(sql, { environmentId, name: "A_TOKEN", value: "a-value", secret: true, at });
        await upsertVariable(sql, { environmentId, name: "B_TOKEN", value: "b-value", secret: true, at });
        await sql.query("UPDATE variables SET value = (SELECT value FROM variables WHERE name = 'A_TOKEN') WHERE name = 'B_TOKEN'");
        await expect(listVariables(sql, environmentId)).rejects.toThrow(/the secret B_TOKEN of environment env_s fails its integrity check under key k[0-9a-f]{12}/);
      });
    });
  });
}

describe("secret keys", () => {
  it("a malformed MODELPLANE_SECRET_KEY is refused, saying how to make one", () => {
    expect(() => parseSecretKeyring("too-short", "MODELPLANE_SECRET_KEY")).toThrow(/MODELPLANE_SECRET_KEY: key 1 is not a 32-byte key .*openssl rand -base64 32/);
    expect(parseSecretKeyring(`${KEY_A}\n${"ab".repeat(32)}\n`, "file").keyIds).toHaveLength(2);
  });

  it("--rotate-secret-key puts a new key first in <data-dir>/secret-key and keeps the old one after it, 0600", async () => {
    const dataDir = join(scratch, "rotated");
    const first = resolveSecretKeyring({ dataDir, env: {} });
    expect(first.source).toBe("generated");
    const newId = rotateSecretKeyFile(dataDir);
    const text = await readFile(join(dataDir, "secret-key"), "utf8");
    const ring = parseSecretKeyring(text, "file");
    expect(ring.keyIds).toEqual([newId, first.keyring.currentKeyId]);
    expect((await stat(join(dataDir, "secret-key"))).mode & 0o777).toBe(0o600);
    expect(resolveSecretKeyring({ dataDir, env: {} })).toMatchObject({ source: "file", keyring: { currentKeyId: newId } });
  });

  it("without a key the engine generates <data-dir>/secret-key, 0600, and reuses it", async () => {
    const dataDir = join(scratch, "generated");
    const first = await openStore({ dataDir });
    await first.close();
    const keyFile = join(dataDir, "secret-key");
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    const key = (await readFile(keyFile, "utf8")).trim();
    const second = await openStore({ dataDir });
    try {
      expect(second.keyring.currentKeyId).toBe(idOf(key));
    } finally {
      await second.close();
    }
  });
});
