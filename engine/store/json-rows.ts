/**
 * Rows read inside JSON (json_agg / to_jsonb: several tables in one statement) back to the types a
 * plain SELECT gives. At top level both drivers turn timestamptz into Date and jsonb into objects;
 * inside JSON a timestamp is a string and the rest is already as a SELECT gives it. Each row type's
 * columns are declared once, checked against the type by the compiler (a column missing, added or
 * of another kind does not compile), and checked at run time against what came back.
 */

/** How a column comes back inside JSON. */
export type ColumnKind = "text" | "text?" | "integer" | "integer?" | "number" | "boolean" | "timestamptz" | "timestamptz?" | "jsonb";

/** The kind a column of TypeScript type T is declared with. */
type KindOf<T> = [T] extends [string]
  ? "text"
  : [T] extends [string | null]
    ? "text?"
    : [T] extends [number]
      ? "integer" | "number"
      : [T] extends [number | null]
        ? "integer?"
        : [T] extends [boolean]
          ? "boolean"
          : [T] extends [Date]
            ? "timestamptz"
            : [T] extends [Date | null]
              ? "timestamptz?"
              : "jsonb";

/** Every column of Row, each with its kind. */
export type Columns<Row> = { readonly [K in keyof Row]-?: KindOf<Row[K]> };

/** The rows of a JSON array of `columns` objects (a missing array: none); throws on anything else. */
export function decodeJsonRows<Row>(table: string, columns: Columns<Row>, value: unknown): Row[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`${table}: expected a JSON array of rows, got ${typeof value}`);
  return value.map((item: unknown) => decodeJsonRow(table, columns, item));
}

/** One row of a JSON object; throws naming the column when one is missing or of another kind. */
export function decodeJsonRow<Row>(table: string, columns: Columns<Row>, value: unknown): Row {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`${table}: expected a JSON object, got ${JSON.stringify(value)}`);
  const source = value as Record<string, unknown>;
  const row: Record<string, unknown> = {};
  for (const [column, kind] of Object.entries(columns) as Array<[string, ColumnKind]>) {
    if (!(column in source)) throw new Error(`${table}.${column}: missing`);
    row[column] = decodeColumn(`${table}.${column}`, kind, source[column]);
  }
  // Every column was checked against its declared kind, and Columns<Row> declares exactly Row's.
  return row as Row;
}

function decodeColumn(name: string, kind: ColumnKind, value: unknown): unknown {
  const wrong = (): never => {
    throw new Error(`${name}: expected ${kind}, got ${JSON.stringify(value)}`);
  };
  switch (kind) {
    case "text":
      return typeof value === "string" ? value : wrong();
    case "text?":
      return value === null || typeof value === "string" ? value : wrong();
    case "integer":
      return typeof value === "number" && Number.isInteger(value) ? value : wrong();
    case "integer?":
      return value === null || (typeof value === "number" && Number.isInteger(value)) ? value : wrong();
    case "number":
      // double precision: to_json writes float8's own text, so JSON.parse gives the number the drivers give
      return typeof value === "number" ? value : wrong();
    case "boolean":
      return typeof value === "boolean" ? value : wrong();
    case "timestamptz":
      return typeof value === "string" ? timestamp(value, wrong) : wrong();
    case "timestamptz?":
      return value === null ? null : typeof value === "string" ? timestamp(value, wrong) : wrong();
    case "jsonb":
      // as a SELECT gives a jsonb column: the parsed value, typed by the row type (as the drivers do)
      return value;
  }
}

/** An ISO timestamp as to_jsonb writes it (`2026-12-03T18:53:03.123+00:00`); the drivers parse
 * timestamptz with `new Date` too, so both give the same instant (to the millisecond). */
function timestamp(text: string, wrong: () => never): Date {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? wrong() : date;
}
