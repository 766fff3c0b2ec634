import { createHash } from "node:crypto";
import type { ReplicaSetId } from "../runtime.js";

/**
 * 45: the Deployment's pods are named `<name>-<pod-template-hash, ≤ 10>-<5 random>`, so pod names
 * (and the hostnames the kubelet derives from them, capped at 63) stay whole: 45 + 1 + 10 + 1 + 5 = 62.
 */
export const MAX_OBJECT_NAME_LENGTH = 45;

/**
 * The Kubernetes name of a replica set's Deployment, Service and Secret, derived from the set id
 * alone (model and deployment names can change, the id never does): readable (`dep-x1y2…-production`),
 * a DNS-1035 label (a-z, 0-9, '-', starting with a letter: valid for Services too), and unique —
 * the id's lossy spelling is followed by 8 hex digits of its sha256, so `dep_a.b` and `dep-a-b`
 * differ. A collision of those 32 bits is also caught: the objects carry the exact set id in an
 * annotation, and the runtime refuses to take over objects of another set.
 */
export function objectNameOf(id: ReplicaSetId): string {
  const hash = createHash("sha256").update(id).digest("hex").slice(0, 8);
  let readable = id
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  if (!/^[a-z]/.test(readable)) readable = `mp-${readable}`;
  readable = readable.slice(0, MAX_OBJECT_NAME_LENGTH - hash.length - 1).replace(/-+$/, "");
  return `${readable}-${hash}`;
}
