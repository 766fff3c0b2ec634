/** Plumbing shared by the four resource implementations: unknowns, check failures, diffs. */
import type * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { zodErrorToFieldErrors } from "../../sdk/errors.js";

export type Props = Record<string, unknown>;

export interface ResourceImplementation {
  check(olds: Props, news: Props): Promise<pulumi.dynamic.CheckResult>;
  diff(id: string, olds: Props, news: Props): Promise<pulumi.dynamic.DiffResult>;
  create(inputs: Props): Promise<pulumi.dynamic.CreateResult>;
  read(id: string, props: Props): Promise<pulumi.dynamic.ReadResult>;
  update(id: string, olds: Props, news: Props): Promise<pulumi.dynamic.UpdateResult>;
  delete(id: string, props: Props): Promise<void>;
}

/** How the engine marks a value not known yet during preview (`rpc.unknownValue` in @pulumi/pulumi). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (value !== null && typeof value === "object") return Object.values(value).some(containsUnknown);
  return false;
}

/** A copy without entries whose value is (or contains) an unknown: they are validated once known. */
export function withoutUnknowns<T extends Props>(props: T): Partial<T> {
  const out: Props = {};
  for (const [key, value] of Object.entries(props)) if (!containsUnknown(value)) out[key] = value;
  return out as Partial<T>;
}

/** `max_surge_percent` → `maxSurgePercent` */
export function snakeToCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** `maxSurgePercent` → `max_surge_percent` */
export function camelToSnake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Shallow key conversion of a settings object whose keys are known field names. */
export function snakeKeys(value: unknown): Props | undefined {
  if (value === undefined || value === null || typeof value !== "object") return undefined;
  const out: Props = {};
  for (const [key, inner] of Object.entries(value)) {
    if (inner === undefined) continue;
    out[camelToSnake(key)] = inner !== null && typeof inner === "object" && !Array.isArray(inner) ? snakeKeys(inner) : inner;
  }
  return out;
}

export function camelKeys(value: unknown): Props | undefined {
  if (value === undefined || value === null || typeof value !== "object") return undefined;
  const out: Props = {};
  for (const [key, inner] of Object.entries(value)) {
    out[snakeToCamel(key)] = inner !== null && typeof inner === "object" && !Array.isArray(inner) ? camelKeys(inner) : inner;
  }
  return out;
}

/**
 * Validate an API body built from the inputs with its sdk schema; one failure per field, named by
 * its input property (camelCase) with the rule's message, so `pulumi preview` stops before any call.
 * `rename` maps API field names whose input name is not their camelCase form.
 */
export function checkFailures(schema: z.ZodType, body: unknown, rename: Record<string, string> = {}): pulumi.dynamic.CheckFailure[] {
  const result = schema.safeParse(body);
  if (result.success) return [];
  return zodErrorToFieldErrors(result.error).map((field) => {
    const segments = field.path.split(".");
    const top = segments[0] ?? "";
    const topName = rename[top.replace(/\[\d+\]$/, "")] ?? snakeToCamel(top);
    const path = [topName, ...segments.slice(1).map(snakeToCamel)].join(".");
    return { property: topName, reason: `${path || "(inputs)"}: ${field.message}` };
  });
}

/**
 * What `read()` reports as inputs: only the fields the program set (`shape`, the old inputs), so
 * values the engine filled in with defaults do not read as drift; nested settings objects keep
 * only the sub-fields the program set.
 */
export function likeInputs(shape: Props, fromEngine: Props): Props {
  const out: Props = {};
  for (const [key, value] of Object.entries(fromEngine)) {
    const set = shape[key];
    if (set === undefined || value === undefined) continue;
    const isObject = (v: unknown): v is Props => v !== null && typeof v === "object" && !Array.isArray(v);
    out[key] = isObject(set) && isObject(value) && key !== "env" && key !== "variables"
      ? Object.fromEntries(Object.entries(value).filter(([inner]) => set[inner] !== undefined))
      : value;
  }
  return out;
}

/** Deterministic JSON for comparisons: object keys sorted, undefined dropped. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner !== null && typeof inner === "object" && !Array.isArray(inner)) {
      return Object.fromEntries(Object.entries(inner as Props).sort(([a], [b]) => a.localeCompare(b)));
    }
    return inner;
  });
}

/** Input properties whose value differs (unknown counts as changed). `__provider` is never compared. */
export function changedProperties(olds: Props, news: Props, keys: readonly string[]): string[] {
  return keys.filter((key) => key !== "__provider" && (containsUnknown(news[key]) || stableJson(olds[key]) !== stableJson(news[key])));
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/**
 * Partial failure: the resource exists with `properties`, but the operation failed (`pulumi up`
 * fails). `reasons` is what `pulumi up` prints for it, and what the engine keeps as the resource's
 * `initErrors`: while there are any, every later run updates the resource whatever its diff says.
 */
export function partialFailure(message: string, id: string, properties: Props, reasons: string[] = [message]): Error & { id: string; properties: Props } {
  // properties cross as a protobuf Struct, which rejects undefined values
  return Object.assign(new Error(message), { id, properties: JSON.parse(JSON.stringify(properties)) as Props, reasons });
}
