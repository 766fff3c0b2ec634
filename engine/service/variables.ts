import type { PutVariableBody, Variable } from "../../sdk/index.js";
import { notFound } from "../errors.js";
import { deleteVariable as deleteVariableRow, upsertVariable } from "../store/variables.js";
import { inTransaction, type ServiceContext } from "./context.js";
import { requireEnvironment } from "./lookups.js";
import { presentVariable } from "./presenters.js";

/**
 * Environment variables and secrets, injected into the environment's replicas. A secret's value
 * goes into the store and into replica environments only: reads, audit entries and logs omit it.
 */
export async function putVariable(
  context: ServiceContext,
  modelId: string,
  environmentName: string,
  name: string,
  body: PutVariableBody,
): Promise<Variable> {
  return inTransaction(context, async (work) => {
    const environment = await requireEnvironment(work.tx, modelId, environmentName, true);
    const { row, created } = await upsertVariable(work.tx, {
      environmentId: environment.id,
      name,
      value: body.value,
      secret: body.secret,
      at: work.at,
    });
    work.audit({
      modelId,
      kind: "variable.set",
      objectId: environment.id,
      objectName: `${environmentName}/${name}`,
      details: { name, secret: row.secret, created },
    });
    work.emit({ type: "environment.changed", modelId, environmentName, deleted: false });
    return presentVariable(row);
  });
}

export async function deleteVariable(
  context: ServiceContext,
  modelId: string,
  environmentName: string,
  name: string,
): Promise<{ id: string; deleted: true }> {
  return inTransaction(context, async (work) => {
    const environment = await requireEnvironment(work.tx, modelId, environmentName, true);
    if (!(await deleteVariableRow(work.tx, environment.id, name))) {
      throw notFound(`variable ${name} is not set in environment ${environmentName}`, { name });
    }
    work.audit({
      modelId,
      kind: "variable.deleted",
      objectId: environment.id,
      objectName: `${environmentName}/${name}`,
      details: { name },
    });
    work.emit({ type: "environment.changed", modelId, environmentName, deleted: false });
    return { id: name, deleted: true as const };
  });
}
