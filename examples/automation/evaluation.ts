/**
 * The staging gate: send every labelled sentence to the staging endpoint, compare the predicted
 * label, and count server errors. A candidate passes only with accuracy ≥ the threshold *and* not
 * a single 5xx: an evaluation run is small (50 requests), so any server error is a real one.
 */
import type { LabelledSentence } from "./evaluation-set.js";

export interface EvaluationReport {
  total: number;
  correct: number;
  accuracy: number;
  /** answers with status ≥ 500, or no answer */
  serverErrors: number;
  /** the first few wrong or failed answers, for the summary */
  mistakes: string[];
  passed: boolean;
  /** one line saying why it passed or failed */
  verdict: string;
}

/** What the example models answer; other models need their own parsing here. */
function predictedLabel(body: unknown): string | undefined {
  if (body !== null && typeof body === "object" && "label" in body && typeof body.label === "string") return body.label;
  return undefined;
}

export async function evaluateEndpoint(
  url: string,
  sentences: readonly LabelledSentence[],
  options: { minAccuracy: number; apiKey: string; concurrency?: number; requestTimeoutMs?: number },
): Promise<EvaluationReport> {
  let correct = 0;
  let serverErrors = 0;
  const mistakes: string[] = [];
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < sentences.length; index = next++) {
      const sentence = sentences[index]!;
      try {
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Api-Key ${options.apiKey}` },
          body: JSON.stringify({ text: sentence.text }),
          signal: AbortSignal.timeout(options.requestTimeoutMs ?? 30_000),
        });
        const text = await response.text();
        if (response.status >= 500) {
          serverErrors++;
          mistakes.push(`"${sentence.text}": HTTP ${response.status} ${text.slice(0, 120)}`);
          continue;
        }
        const label = response.ok ? predictedLabel(JSON.parse(text)) : undefined;
        if (label === sentence.label) correct++;
        else mistakes.push(`"${sentence.text}": expected ${sentence.label}, got ${label ?? `HTTP ${response.status}`}`);
      } catch (error) {
        serverErrors++;
        mistakes.push(`"${sentence.text}": no answer (${(error as Error).message})`);
      }
    }
  };
  // 4 in flight: quick, and gentle on a staging environment with one replica.
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  const total = sentences.length;
  const accuracy = total === 0 ? 0 : correct / total;
  const passed = total > 0 && serverErrors === 0 && accuracy >= options.minAccuracy;
  const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
  const verdict =
    serverErrors > 0 ? `${serverErrors} of ${total} requests failed with a server error`
    : accuracy < options.minAccuracy ? `accuracy ${percent(accuracy)} (${correct}/${total}) is below the threshold ${percent(options.minAccuracy)}`
    : `accuracy ${percent(accuracy)} (${correct}/${total}) ≥ ${percent(options.minAccuracy)}, no server errors`;
  return { total, correct, accuracy, serverErrors, mistakes: mistakes.slice(0, 5), passed, verdict };
}
