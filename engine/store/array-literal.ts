import type { SqlParam } from "./sql.js";

/**
 * One array parameter in PostgreSQL's text form (`{"a","b",NULL}`), cast in the statement
 * (`$1::text[]`, `$2::int[]`, `$3::timestamptz[]`): the SQL port passes scalars only, and one array
 * per column lets a statement write many rows (`unnest`) or match many ids (`= ANY`). Every element
 * is quoted (a `,` `{` `"` or space in a value cannot split it); null is NULL; a Date is its ISO time.
 */
export function arrayLiteral(values: ReadonlyArray<string | number | Date | null>): SqlParam {
  const elements = values.map((value) => {
    if (value === null) return "NULL";
    const text = value instanceof Date ? value.toISOString() : String(value);
    return `"${text.replace(/["\\]/g, "\\$&")}"`;
  });
  return `{${elements.join(",")}}`;
}
