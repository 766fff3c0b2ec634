import type { ShadowComparison } from "../../../sdk/schemas/shadow.js";

/** One side's answer as the comparison sees it. */
export interface ComparedAnswer {
  status: number;
  body: Buffer;
}

export interface ComparisonResult {
  statusAgrees: boolean;
  outputAgrees: boolean;
  /** "status", "body" (exact or non-JSON mismatch) or the dotted paths that differ; at most MAX_DIFFERING_FIELDS */
  differingFields: string[];
}

/** A disagreement sample names at most this many fields (a wholly different answer would list them all). */
export const MAX_DIFFERING_FIELDS = 20;

/**
 * Compares the primary's answer with the shadow's. Pure. Statuses always count; the bodies by the
 * shadow's comparison: `exact` bytes, or `json` field by field — numbers equal within
 * `numeric_tolerance` (absolute), everything else strictly equal, arrays element by element, only
 * `fields` when given. A body that is not JSON in json mode is compared byte for byte.
 *
 * Worked example (json, tolerance 0.05, fields ["label", "score"]): {"label":"positive",
 * "score":0.91,"took_ms":3} against {"label":"positive","score":0.88,"took_ms":9} agree
 * (|0.91 − 0.88| = 0.03, took_ms not compared); with "score":0.80 they differ on ["score"].
 */
export function compareAnswers(primary: ComparedAnswer, shadow: ComparedAnswer, comparison: ShadowComparison): ComparisonResult {
  const statusAgrees = primary.status === shadow.status;
  const differing: string[] = statusAgrees ? [] : ["status"];
  // Identical bytes agree in every mode (the same JSON has the same fields): nothing is parsed for
  // the common case, a shadow answering as the primary did.
  if (primary.body.equals(shadow.body)) return { statusAgrees, outputAgrees: true, differingFields: differing };
  let outputAgrees: boolean;
  if (comparison.mode === "exact") {
    outputAgrees = primary.body.equals(shadow.body);
    if (!outputAgrees) differing.push("body");
  } else {
    const left = parseJson(primary.body);
    const right = parseJson(shadow.body);
    if (left === NOT_JSON || right === NOT_JSON) {
      outputAgrees = primary.body.equals(shadow.body);
      if (!outputAgrees) differing.push("body");
    } else {
      const fieldDiffs: string[] = [];
      const tolerance = comparison.numeric_tolerance;
      if (comparison.fields !== undefined) {
        for (const path of comparison.fields) {
          if (!valuesAgree(valueAt(left, path), valueAt(right, path), tolerance)) fieldDiffs.push(path);
        }
      } else {
        diffValues(left, right, "", tolerance, fieldDiffs);
      }
      outputAgrees = fieldDiffs.length === 0;
      differing.push(...fieldDiffs);
    }
  }
  return { statusAgrees, outputAgrees, differingFields: differing.slice(0, MAX_DIFFERING_FIELDS) };
}

const NOT_JSON = Symbol("not json");

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8")) as unknown;
  } catch {
    return NOT_JSON;
  }
}

/** The value at a dotted path ("result.scores.0"); undefined when any step is missing. */
export function valueAt(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split(".")) {
    if (Array.isArray(current)) {
      const index = Number(key);
      current = Number.isInteger(index) ? current[index] : undefined;
    } else if (isObject(current)) {
      current = Object.hasOwn(current, key) ? current[key] : undefined;
    } else {
      return undefined;
    }
  }
  return current;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function valuesAgree(left: unknown, right: unknown, tolerance: number): boolean {
  const found: string[] = [];
  diffValues(left, right, "", tolerance, found, 1);
  return found.length === 0;
}

/** Appends the paths where `left` and `right` differ (stops after `limit`). */
function diffValues(left: unknown, right: unknown, path: string, tolerance: number, out: string[], limit = MAX_DIFFERING_FIELDS): void {
  if (out.length >= limit) return;
  if (typeof left === "number" && typeof right === "number") {
    if (!(Math.abs(left - right) <= tolerance)) out.push(path || "body");
    return;
  }
  if (Array.isArray(left) && Array.isArray(right)) {
    if (left.length !== right.length) {
      out.push(path || "body");
      return;
    }
    for (let i = 0; i < left.length; i++) diffValues(left[i], right[i], join(path, String(i)), tolerance, out, limit);
    return;
  }
  if (isObject(left) && isObject(right)) {
    const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
    for (const key of keys) diffValues(left[key], right[key], join(path, key), tolerance, out, limit);
    return;
  }
  if (left !== right) out.push(path || "body");
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

/** The payload of a raw chunked body (the fast path relays the framing as it is); undefined if malformed. */
export function dechunk(raw: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", at, "latin1");
    if (lineEnd === -1) return undefined;
    const size = Number.parseInt(raw.toString("latin1", at, lineEnd).split(";")[0]!.trim(), 16);
    if (!Number.isFinite(size) || size < 0) return undefined;
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (start + size > raw.length) return undefined;
    parts.push(raw.subarray(start, start + size));
    at = start + size + 2;
  }
}
