/**
 * What the API's most frequent reads cost the store (the embedded store runs one statement at a
 * time for the API and the control loop alike): GET model, GET deployment and the list of a model's
 * deployments in one statement each,
 * GET environment too (environment-reads.test.ts shows every field), and the environment a deployment is shown serving is the one the model's serving
 * environments said (production first, then by name).
 */
import { describe, expect, it } from "vitest";
import { ControlPlane } from "../../../engine/service/control-plane.js";
import { pgliteStoreForFile } from "../../support/pglite-store-for-file.js";
import { loggingStatements } from "../../support/statement-log.js";

const store = pgliteStoreForFile();

describe("API reads", () => {
  it("GET model, GET deployment, the deployments' list and GET environment are one statement each; a deployment is shown with the environment it serves", async () => {
    const log = loggingStatements(store());
    const service = new ControlPlane({ sql: log.sql });
    const model = await service.createModel({ name: "reads" });
    for (const name of ["staging", "alpha"]) await service.createEnvironment(model.id, { name });
    const [both, twoOthers, none] = [
      await service.createDeployment(model.id, { command: ["model"] } as never),
      await service.createDeployment(model.id, { command: ["model"] } as never),
      await service.createDeployment(model.id, { command: ["model"] } as never),
    ];
    // as promotions would have left them: production served by one, alpha and staging by another
    const serve = (environment: string, deploymentId: string) =>
      store().query("UPDATE environments SET current_deployment_id = $3 WHERE model_id = $1 AND name = $2", [model.id, environment, deploymentId]);
    await serve("production", both!.id);
    await serve("staging", twoOthers!.id);
    await serve("alpha", twoOthers!.id);

    for (const [deployment, environment] of [[both!, "production"], [twoOthers!, "alpha"], [none!, null]] as const) {
      const from = log.statements.length;
      const shown = await service.getDeployment(model.id, deployment.id);
      expect(log.statements.length - from).toBe(1);
      expect({ id: shown.id, environment: shown.environment }).toEqual({ id: deployment.id, environment });
    }
    // Production served by `both` and staging too: production first.
    await serve("staging", both!.id);
    expect((await service.getDeployment(model.id, both!.id)).environment).toBe("production");

    const from = log.statements.length;
    const production = await service.getEnvironment(model.id, "production");
    expect(log.statements.length - from).toBe(1);
    expect(production.current_deployment).toMatchObject({ id: both!.id, environment: "production" });
    expect((await service.getEnvironment(model.id, "alpha")).current_deployment).toMatchObject({ id: twoOthers!.id, environment: "alpha" });

    const beforeList = log.statements.length;
    const listed = await service.listDeployments(model.id);
    expect(log.statements.length - beforeList).toBe(1);
    expect(Object.fromEntries(listed.map((deployment) => [deployment.id, deployment.environment]))).toEqual({ [both!.id]: "production", [twoOthers!.id]: "alpha", [none!.id]: null });

    const beforeModel = log.statements.length;
    const shownModel = await service.getModel(model.id);
    expect(log.statements.length - beforeModel).toBe(1);
    expect(shownModel).toMatchObject({ id: model.id, name: "reads", deployments_count: 3, production_deployment_id: both!.id, development_deployment_id: null });

    // the 404s name what is missing
    await expect(service.getModel("mdl-missing")).rejects.toThrow("model mdl-missing not found");
    await expect(service.getDeployment(model.id, "dep-missing")).rejects.toThrow(`deployment dep-missing not found in model ${model.id}`);
    await expect(service.getDeployment(model.id, "development")).rejects.toThrow(`model ${model.id} has no development deployment`);
    await expect(service.getDeployment("mdl-missing", both!.id)).rejects.toThrow("model mdl-missing not found");
  });
});
