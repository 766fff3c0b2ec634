/**
 * A reader of the Prometheus text exposition format (version 0.0.4), for tests that scrape
 * `GET /metrics`: every sample with its labels, and sums over those matching some labels.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/gy;

function unescape(value: string): string {
  return value.replace(/\\(.)/g, (_, char: string) => (char === "n" ? "\n" : char));
}

function parseValue(text: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** Every sample of a scrape; throws on a line that is neither a comment nor a sample. */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = SAMPLE_LINE.exec(line);
    if (match === null) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    const labelText = match[2] ?? "";
    LABEL.lastIndex = 0;
    let consumed = 0;
    for (let label = LABEL.exec(labelText); label !== null; label = LABEL.exec(labelText)) {
      labels[label[1]!] = unescape(label[2]!);
      consumed = LABEL.lastIndex;
    }
    if (consumed !== labelText.length) throw new Error(`malformed labels in: ${line}`);
    samples.push({ name: match[1]!, labels, value: parseValue(match[3]!) });
  }
  return samples;
}

/** The samples of `name` whose labels include every pair of `match`. */
export function samplesOf(samples: readonly Sample[], name: string, match: Record<string, string> = {}): Sample[] {
  return samples.filter((sample) => sample.name === name && Object.entries(match).every(([key, value]) => sample.labels[key] === value));
}

/** Sum of the matching samples (0 when none match: a counter never incremented is absent). */
export function sumOf(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number {
  return samplesOf(samples, name, match).reduce((total, sample) => total + sample.value, 0);
}
