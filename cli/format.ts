/** Plain-text tables and field lists for the human (non `--json`) output of client commands. */

/** Left-aligned columns separated by two spaces; headers upper-case, as kubectl prints them. */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers.map((header) => header.toUpperCase())), ...rows.map(line)].join("\n");
}

/** `label:  value` lines with the values aligned; for `get` commands. */
export function formatFields(fields: ReadonlyArray<readonly [label: string, value: string]>): string {
  const width = Math.max(...fields.map(([label]) => label.length)) + 1;
  return fields.map(([label, value]) => `${`${label}:`.padEnd(width)}  ${value}`).join("\n");
}

/** ISO timestamps without milliseconds: tables stay narrow and nobody reads the milliseconds. */
export function formatTime(timestamp: string | null | undefined): string {
  if (!timestamp) return "-";
  return timestamp.replace(/\.\d+Z$/, "Z");
}

/** `-` for a missing value, so columns never look shifted. */
export function orDash(value: string | number | null | undefined): string {
  return value === null || value === undefined || value === "" ? "-" : String(value);
}
