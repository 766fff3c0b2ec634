// Small display helpers shared by the views.
export const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELED"]);

export function isRunning(promotion) {
  return promotion != null && !TERMINAL.has(promotion.status);
}

export function when(timestamp) {
  if (!timestamp) return "—";
  const date = new Date(timestamp);
  return Number.isNaN(date.getTime()) ? timestamp : date.toLocaleString();
}

export function percent(value) {
  return `${Math.round(value * 10) / 10} %`;
}

/** A class name for a status chip (colour is never the only cue: the text is always there). */
export function statusClass(status) {
  if (status === "SUCCEEDED" || status === "ACTIVE") return "chip ok";
  if (status === "FAILED" || status === "UNHEALTHY" || status === "BUILD_FAILED" || status === "DEPLOY_FAILED") return "chip bad";
  if (status === "CANCELED" || status === "INACTIVE") return "chip muted";
  return "chip busy";
}

/** Re-run `fn` at most once per `ms`, at the end of a burst (events come in bursts during a rollout). */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
