// Sentiment model v2: a weighted lexicon with negation ("not good" is negative) and a logistic
// squash of the summed weights. POST /predict {"text": "..."}.
import { serveModel } from "../shared/model-server.js";

const WEIGHTS = new Map([
  ["good", 1.5], ["great", 2], ["excellent", 3], ["love", 3], ["happy", 2], ["nice", 1.2],
  ["fantastic", 3], ["wonderful", 2.5], ["best", 2.5], ["like", 0.8],
  ["bad", -1.5], ["terrible", -3], ["awful", -3], ["hate", -3], ["sad", -2], ["poor", -1.5],
  ["worst", -3], ["horrible", -3], ["boring", -1.2], ["dislike", -1.5],
]);
const NEGATIONS = new Set(["not", "no", "never", "isn't", "wasn't", "don't", "doesn't"]);

function predict(text) {
  let sum = 0;
  let negateNext = false;
  for (const word of text.toLowerCase().match(/[a-z']+/g) ?? []) {
    if (NEGATIONS.has(word)) {
      negateNext = true;
      continue;
    }
    const weight = WEIGHTS.get(word) ?? 0;
    sum += negateNext ? -weight : weight;
    if (weight !== 0) negateNext = false;
  }
  const positiveProbability = 1 / (1 + Math.exp(-sum));
  const label = sum > 0.25 ? "positive" : sum < -0.25 ? "negative" : "neutral";
  const score = label === "negative" ? 1 - positiveProbability : label === "positive" ? positiveProbability : 1 - Math.abs(positiveProbability - 0.5) * 2;
  return { label, score: Math.round(score * 1000) / 1000 };
}

serveModel({ version: "v2", predict });
