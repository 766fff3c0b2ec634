/**
 * An API request's statements are its API key's work: the store's line takes turns between keys
 * (engine/store/statement-line.ts), so one key's burst waits behind itself. Checked on a real
 * engine: the caller each statement of a request is asked as, for two admin keys.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { currentCaller } from "../../../engine/store/statement-priority.js";
import { startTestEngine, type TestEngine } from "../../support/test-engine.js";

describe("whose work an API request's statements are", () => {
  let dataDir: string;
  let api: TestEngine;
  const callers: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "modelplane-caller-"));
    api = await startTestEngine({ dataDir });
    // every way a statement is asked: alone, in a transaction, in a decided transaction
    const store = api.engine.store;
    const { query, transaction, decidedTransaction } = store;
    store.query = (text, params) => {
      callers.push(currentCaller());
      return query(text, params);
    };
    store.transaction = (fn) => {
      callers.push(currentCaller());
      return transaction(fn);
    };
    store.decidedTransaction = (plan, decided) => {
      callers.push(currentCaller());
      return decidedTransaction(plan, decided);
    };
  });
  afterAll(async () => {
    await api?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("are asked as the request's API key: the engine's own key, or a key created through the API", async () => {
    const created = await api.call("POST", "/v1/api_keys", { name: "rollout-pipeline", scope: "admin" });
    expect(created.status).toBe(201);
    callers.length = 0;
    expect((await api.call("GET", "/v1/models")).status).toBe(200);
    expect(callers.length).toBeGreaterThan(0);
    expect(new Set(callers)).toEqual(new Set(["bootstrap"]));

    callers.length = 0;
    expect((await api.call("POST", "/v1/models", { name: "pipeline-model" }, { authorization: `Api-Key ${created.body.key}` })).status).toBe(201);
    expect(callers.length).toBeGreaterThan(0);
    expect(new Set(callers)).toEqual(new Set([created.body.id]));
    // outside any request, the engine's own work
    expect(currentCaller()).toBe("");
  });
});
