import { z } from "zod";
import { ObjectId } from "./common.js";
import { HeaderName } from "./shadow.js";

/** The header that asks for the candidate unless an environment names another. */
export const DEFAULT_TARGET_HEADER = "x-modelplane-target";

/**
 * Header routing (issue 17): a request to the environment that carries `x-modelplane-target:
 * candidate` (or the configured header, or a cookie of the configured name, with that value) is
 * served by the in-progress candidate — in the environment's own replicas of it, with its variables
 * — so a team can try a candidate in production before any traffic shifts; with a deployment id in
 * `allowed_deployments` as the value, by that deployment's own replicas (those of its per-deployment
 * endpoint). Off unless set (null). Without a promotion in progress `candidate` gets the usual split
 * (the answer's x-modelplane-deployment-id says which); any other value is a 403.
 *
 * Key scopes: a candidate request is a request to the environment (a key limited to it may make it),
 * but never anonymous — on a public environment it needs a key; a deployment request needs a key
 * that may call that deployment's per-deployment endpoint (not one limited to environments).
 */
export const HeaderRouting = z
  .object({
    /** the request header read; default x-modelplane-target */
    header: HeaderName.default(DEFAULT_TARGET_HEADER),
    /** also a cookie of this name (read when the header is absent) */
    cookie: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "a cookie name (RFC 6265 token)")
      .optional(),
    /** deployment ids of this model a request may name as the value (besides "candidate") */
    allowed_deployments: z.array(ObjectId).max(16).default([]),
  })
  .strict();
export type HeaderRouting = z.infer<typeof HeaderRouting>;
export type HeaderRoutingInput = z.input<typeof HeaderRouting>;
