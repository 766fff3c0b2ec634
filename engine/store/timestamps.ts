/** Both drivers return timestamptz as Date; text is accepted for safety (e.g. a cast in a query). */
export function toIsoTimestamp(value: Date | string): string;
export function toIsoTimestamp(value: Date | string | null): string | null;
export function toIsoTimestamp(value: Date | string | null): string | null {
  if (value === null) return null;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}
