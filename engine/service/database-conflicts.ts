import { conflict, ModelplaneError } from "../errors.js";
import { databaseErrorFields, SQLSTATE } from "../store/sql.js";

/**
 * Turn a constraint violation into a 409 with an actionable message. The service checks most
 * rules before writing; these are races between concurrent requests (or engines) that only the
 * database can settle.
 */
export async function withConflictMessages<T>(
  operation: () => Promise<T>,
  messages: Record<string, string>,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof ModelplaneError) throw error;
    const fields = databaseErrorFields(error);
    if (
      fields &&
      (fields.code === SQLSTATE.uniqueViolation || fields.code === SQLSTATE.raiseException) &&
      fields.constraint !== undefined
    ) {
      const message = messages[fields.constraint];
      if (message !== undefined) throw conflict(message, { constraint: fields.constraint });
    }
    throw error;
  }
}
