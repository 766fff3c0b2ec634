/**
 * How people see objects in messages: by name, with the id the API needs in brackets
 * (`v2 (dep_ktqlza2uusq9)`). Names are what a program or a person chose; ids alone read as noise.
 */
import type { Promotion } from "./schemas/promotion.js";

/** `v2 (dep_…)`; the bare id when the name is unknown. */
export function nameWithId(name: string | null | undefined, id: string): string {
  return name ? `${name} (${id})` : id;
}

/** The deployment a promotion moves to, e.g. `v2 (dep_…)`. */
export function candidateLabel(promotion: Pick<Promotion, "deployment_name" | "deployment_id">): string {
  return nameWithId(promotion.deployment_name, promotion.deployment_id);
}

/** The deployment a promotion moves away from, e.g. `v1 (dep_…)`; null for the first promotion. */
export function previousLabel(promotion: Pick<Promotion, "previous_deployment_name" | "previous_deployment_id">): string | null {
  return promotion.previous_deployment_id === null ? null : nameWithId(promotion.previous_deployment_name, promotion.previous_deployment_id);
}
