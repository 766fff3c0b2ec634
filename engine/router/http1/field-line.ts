/** token ":" OWS value OWS, where the value is visible ASCII, obs-text, space or tab. One character
 * class after the colon, the OWS trimmed by `trimOws`: OWS patterns on both sides of the value
 * can match the same spaces, which backtracks in cubic time on a long line that does not match
 * (a 4000-space line took 18 s). */
const FIELD_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):([\t\x20-\x7e\x80-\xff]*)$/;

/** A field value without its leading and trailing OWS (spaces and tabs). */
function trimOws(raw: string): string {
  let start = 0;
  let end = raw.length;
  while (start < end && (raw.charCodeAt(start) === 0x20 || raw.charCodeAt(start) === 0x09)) start++;
  while (end > start && (raw.charCodeAt(end - 1) === 0x20 || raw.charCodeAt(end - 1) === 0x09)) end--;
  return raw.slice(start, end);
}

/** One header field line (without its CRLF): its lower-cased name and trimmed value, or
 * undefined when the line breaks the field grammar. Request and response heads share it. */
export function parseFieldLine(line: string): { name: string; value: string } | undefined {
  const field = FIELD_LINE.exec(line);
  if (field === null) return undefined;
  return { name: field[1]!.toLowerCase(), value: trimOws(field[2]!) };
}
