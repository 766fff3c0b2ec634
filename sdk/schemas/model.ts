import { z } from "zod";
import { DisplayName, ObjectId, Timestamp } from "./common.js";

/** A model: owns deployments and environments. Creating one creates its `production` environment. */
export const Model = z.object({
  id: ObjectId,
  name: DisplayName,
  created_at: Timestamp,
  /** non-deleted deployments, development included */
  deployments_count: z.int().min(0).optional(),
  /** deployment serving the production environment, null until the first promotion */
  production_deployment_id: ObjectId.nullable(),
  development_deployment_id: ObjectId.nullable(),
});
export type Model = z.infer<typeof Model>;

export const CreateModelBody = z.object({ name: DisplayName }).strict();
export type CreateModelBody = z.infer<typeof CreateModelBody>;

export const ModelList = z.object({ models: z.array(Model) });
export type ModelList = z.infer<typeof ModelList>;
