import { percent, statusClass } from "../format.js";
import { html } from "../html.js";

/** The promotion in progress (or the last one): step, traffic split, both sides' replicas. */
export function PromotionLive({ promotion }) {
  const toCandidate = promotion.percent_traffic_to_new_version;
  const { previous, candidate } = promotion.replicas;
  return html`
    <div class="promotion" data-testid="promotion-live" data-status=${promotion.status} data-percent=${toCandidate}>
      <div class="row between">
        <span class=${statusClass(promotion.status)}>${promotion.status}</span>
        <span class="muted">${promotion.kind} · step ${Math.min(promotion.step + 1, Math.max(promotion.total_steps, 1))} of ${Math.max(promotion.total_steps, 1)} · ${promotion.phase.replaceAll("_", " ")}</span>
      </div>
      <div class="split" aria-hidden="true">
        <div class="split-previous" style=${{ width: `${100 - toCandidate}%` }}></div>
        <div class="split-candidate" style=${{ width: `${toCandidate}%` }}></div>
      </div>
      <p aria-live="polite">
        <strong data-testid="promotion-percent">${percent(toCandidate)}</strong> of traffic to <strong>${promotion.deployment_name}</strong>${promotion.previous_deployment_name &&
        html`, ${percent(100 - toCandidate)} to ${promotion.previous_deployment_name}`}
      </p>
      <table class="compact">
        <caption class="visually-hidden">Replicas on each side</caption>
        <thead><tr><th scope="col">side</th><th scope="col">deployment</th><th scope="col">ready / desired</th></tr></thead>
        <tbody>
          ${promotion.previous_deployment_name &&
          html`<tr><td>previous</td><td>${promotion.previous_deployment_name}</td><td>${previous.ready} / ${previous.desired}</td></tr>`}
          <tr><td>candidate</td><td>${promotion.deployment_name}</td><td>${candidate.ready} / ${candidate.desired}</td></tr>
        </tbody>
      </table>
      ${promotion.error_message && html`<p class="error">${promotion.error_message}</p>`}
    </div>
  `;
}
