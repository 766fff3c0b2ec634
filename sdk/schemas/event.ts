import { z } from "zod";
import { DnsLabelName, ObjectId } from "./common.js";
import { Promotion } from "./promotion.js";

/**
 * One state change as `GET /v1/events` sends it (the `data:` of a server-sent event whose
 * `event:` is the same `type`). Promotions carry the promotion as the API presents it (status,
 * step, percent, both sides' replicas), so a live view needs no extra request; the other objects
 * carry their ids, enough to refetch the one object that changed.
 *
 * Event ids (`id:`) are `<engine-epoch>.<sequence>`: increasing within one engine process. After
 * a reconnect with `Last-Event-ID` the stream resumes right after that event, or — when the id is
 * from another engine process (a restart, another engine behind a load balancer) or older than
 * the engine's ring of recent events — sends a `reset` first: refetch what you show.
 */
export const ModelplaneEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("model.created"), model_id: ObjectId }),
  z.object({ type: z.literal("model.deleted"), model_id: ObjectId }),
  /** created, renamed, activated, deactivated, autoscaling or replica count changed, deleted */
  z.object({ type: z.literal("deployment.changed"), model_id: ObjectId, deployment_id: ObjectId, deleted: z.boolean() }),
  /** created, settings or variables changed, current deployment changed, deleted */
  z.object({ type: z.literal("environment.changed"), model_id: ObjectId, environment: DnsLabelName, deleted: z.boolean() }),
  /** started, moved a step, paused, resumed, canceled, finished: the promotion after the change */
  z.object({ type: z.literal("promotion.changed"), model_id: ObjectId, environment: DnsLabelName, promotion: Promotion }),
  z.object({ type: z.literal("promotion_settings.changed"), promotion_settings_id: ObjectId, deleted: z.boolean() }),
  /** the stream could not resume where the client asked: what it shows may be stale, refetch it */
  z.object({ type: z.literal("reset"), reason: z.string().max(500) }),
]);
export type ModelplaneEvent = z.infer<typeof ModelplaneEvent>;
export type ModelplaneEventType = ModelplaneEvent["type"];

/** `GET /v1/events?model_id=…&environment=…`: only events about that model / that environment name
 * (an environment filter keeps environment and promotion events only; `reset` always passes). */
export const EventsQuery = z
  .object({ model_id: ObjectId.optional(), environment: DnsLabelName.optional() })
  .strict();
export type EventsQuery = z.infer<typeof EventsQuery>;

/** Does an event pass a stream's filter? Pure; the engine and the client helper share it. */
export function eventMatches(event: ModelplaneEvent, query: EventsQuery): boolean {
  if (event.type === "reset") return true;
  if (query.model_id !== undefined && (!("model_id" in event) || event.model_id !== query.model_id)) return false;
  if (query.environment !== undefined && (!("environment" in event) || event.environment !== query.environment)) return false;
  return true;
}
