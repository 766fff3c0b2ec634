/**
 * A workspace environment as the API shows it names its secrets without their values, so a read
 * never decrypts one: it needs no key, and no secret's plain text is made for an answer. Before,
 * every GET decrypted each secret only to drop its value — and an engine that could not decrypt one
 * (another key, an altered row) failed the whole read.
 */
import { describe, expect, it } from "vitest";
import { ControlPlane } from "../../../engine/service/control-plane.js";
import { pgliteStoreForFile } from "../../support/pglite-store-for-file.js";

const store = pgliteStoreForFile();

describe("workspace environment reads", () => {
  it("show plain values and secrets by name, without decrypting: a secret no key decrypts does not fail them", async () => {
    const service = new ControlPlane({ sql: store() });
    await service.createWorkspaceEnvironment({ name: "qa", variables: { QA_LEVEL: "3" }, secrets: { QA_TOKEN: "qa-secret" } });
    // the secret's ciphertext altered: it fails its integrity check if anything decrypts it
    await store().query("UPDATE workspace_variables SET value = 'x' || value WHERE secret");
    const expected = [
      { name: "QA_LEVEL", secret: false, value: "3" },
      { name: "QA_TOKEN", secret: true },
    ];
    expect((await service.getWorkspaceEnvironment("qa")).variables).toEqual(expected);
    expect((await service.listWorkspaceEnvironments()).find((environment) => environment.name === "qa")?.variables).toEqual(expected);
    // what would decrypt it does fail (the replicas' configuration must not run without it)
    const model = await service.createModel({ name: "m" });
    await expect(service.replicaVariables(model.id, "qa")).rejects.toThrow(/QA_TOKEN/);
  });
});
