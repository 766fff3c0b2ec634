// Sentiment model v1: counts words from two small lists. POST /predict {"text": "..."}.
import { serveModel } from "../shared/model-server.js";

const POSITIVE = new Set(["good", "great", "excellent", "love", "happy", "nice", "fantastic", "wonderful", "best", "like"]);
const NEGATIVE = new Set(["bad", "terrible", "awful", "hate", "sad", "poor", "worst", "horrible", "boring", "dislike"]);

function predict(text) {
  let positive = 0;
  let negative = 0;
  for (const word of text.toLowerCase().match(/[a-z']+/g) ?? []) {
    if (POSITIVE.has(word)) positive++;
    else if (NEGATIVE.has(word)) negative++;
  }
  const total = positive + negative;
  // score: probability-like confidence in the label, 0.5 when nothing matched
  const score = total === 0 ? 0.5 : Math.max(positive, negative) / total;
  const label = positive > negative ? "positive" : negative > positive ? "negative" : "neutral";
  return { label, score: Math.round(score * 1000) / 1000 };
}

serveModel({ version: "v1", predict });
