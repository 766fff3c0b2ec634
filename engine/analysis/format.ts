/** Numbers in analysis messages: 4 significant digits, so a message reads "0.7143", not "0.714285714". */
export function formatMeasured(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return String(Number(value.toPrecision(4)));
}
