/** How a failed command explains itself on stderr: `error: <message>`, then each failing field. */
import { ValidationError } from "../sdk/client-errors.js";

export function formatCliError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const lines = [`error: ${message}`];
  if (error instanceof ValidationError) {
    for (const field of error.fields) lines.push(`  ${field.path || "(body)"}: ${field.message} [${field.rule}]`);
  }
  return `${lines.join("\n")}\n`;
}
