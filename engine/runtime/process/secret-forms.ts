import { inspect } from "node:util";

/**
 * Every form in which a replica's output may carry a secret value, so that redaction finds it:
 * the raw value; each line of a multi-line value (a PEM key printed as is arrives line by line);
 * the value JSON-escaped (`JSON.stringify(process.env)` turns `"`, `\` and newlines into escapes)
 * or escaped as `console.log(process.env)` prints it (util.inspect);
 * the value percent-encoded; the value in base64 and base64url. A secret re-encoded in any other way
 * (hex, gzip, split across prints) is not recognised: redaction is a safety net, not a guarantee.
 */

/** Lines of a multi-line secret shorter than this are not redacted on their own: `}` or
 * `-----` alone would blank out unrelated output, and carry nothing secret. */
const MIN_LINE_FORM_CHARS = 6;

export function secretForms(values: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const value of values) {
    if (value.length === 0) continue;
    forms.add(value);
    forms.add(JSON.stringify(value).slice(1, -1));
    forms.add(inspect(value).slice(1, -1));
    forms.add(encodeURIComponent(value));
    if (value.includes("\n") || value.includes("\r")) {
      for (const line of value.split(/\r?\n|\r/)) {
        if (line.trim().length >= MIN_LINE_FORM_CHARS) {
          forms.add(line);
          forms.add(JSON.stringify(line).slice(1, -1));
        }
      }
    }
    if (value.length >= MIN_LINE_FORM_CHARS) {
      const base64 = Buffer.from(value, "utf8").toString("base64");
      forms.add(base64);
      forms.add(base64.replace(/=+$/, ""));
      forms.add(Buffer.from(value, "utf8").toString("base64url"));
    }
  }
  // Longest first, so that a form containing another is replaced whole.
  return [...forms].sort((a, b) => b.length - a.length);
}

export const REDACTED = "[REDACTED]";

/** `text` without a trailing start of a form: a line still arriving may end in the first half
 * of a secret, which no whole-form match would catch. */
export function cutTrailingFormStart(text: string, forms: readonly string[]): string {
  let end = text.length;
  for (const form of forms) {
    // bounded: a partial line is at most 64 KiB, and this runs once per failure report
    for (let k = Math.min(form.length - 1, end, 4096); k > 0; k--) {
      if (text.startsWith(form.slice(0, k), end - k)) {
        end -= k;
        break;
      }
    }
  }
  return end === text.length ? text : `${text.slice(0, end)}[…]`;
}

/** `text` with every occurrence of every form replaced (forms as `secretForms` returns them). */
export function redactForms(text: string, forms: readonly string[]): string {
  let redacted = text;
  for (const form of forms) if (redacted.includes(form)) redacted = redacted.split(form).join(REDACTED);
  return redacted;
}
