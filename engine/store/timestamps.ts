/** Both drivers return timestamptz as Date; text is accepted for safety (e.g. a cast in a query). */
export function toIsoTimestamp(value: Date | string): string;
export function toIsoTimestamp(value: Date | string | null): string | null;
export function toIsoTimestamp(value: Date | string | null): string | null {
  if (value === null) return null;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

/**
 * A timestamptz read as text, as it comes inside JSON (`to_json` of a row: "2026-12-03T10:00:15.202+00:00"),
 * to the Date a driver gives for the column itself: PGlite parses the column's text this same way;
 * pg's parser (postgres-date) gives the same Date for every millisecond (both drop microseconds).
 */
export function timestampFromText(text: string): Date {
  return new Date(text);
}
