import { percent, statusClass, when } from "../format.js";
import { html } from "../html.js";

/** The promotion in progress (or the last one): step, traffic split, both sides' replicas. */
export function PromotionLive({ promotion }) {
  const toCandidate = promotion.percent_traffic_to_new_version;
  const { previous, candidate } = promotion.replicas;
  return html`
    <div class="promotion" data-testid="promotion-live" data-status=${promotion.status} data-percent=${toCandidate} data-deployment=${promotion.deployment_name}>
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
      ${promotion.approval === "waiting" && html`<p class="gate" role="status">Waiting at the manual gate: the candidate gets all the traffic once someone approves.</p>`}
      ${promotion.approval === "pending" && html`<p class="muted">Manual gate ahead: it will wait for approval before the candidate gets all the traffic.</p>`}
      ${promotion.analysis && html`<${Analysis} analysis=${promotion.analysis} />`}
      ${promotion.error_message && html`<p class="error">${promotion.error_message}</p>`}
    </div>
  `;
}

const VERDICT_CLASS = { pass: "chip ok", fail: "chip bad", inconclusive: "chip busy" };

/** The automated analysis: counters, why it paused, the recent runs with each metric's verdict. */
function Analysis({ analysis }) {
  const recent = analysis.runs.slice(-5).reverse();
  return html`
    <div class="analysis" data-testid="promotion-analysis">
      <h4>Analysis${analysis.dry_run ? " (dry run: judged, never acted on)" : ""}</h4>
      <p>${analysis.passed_runs} passed · ${analysis.failed_runs} failed · ${analysis.inconclusive_runs} inconclusive (${analysis.inconclusive_in_a_row} in a row)</p>
      ${analysis.paused_reason && html`<p class="gate" role="status">Paused by analysis: ${analysis.paused_reason}</p>`}
      ${recent.length > 0 &&
      html`<div class="scroll"><table class="compact">
        <caption class="visually-hidden">Recent analysis runs, newest first</caption>
        <thead><tr><th scope="col">window end</th><th scope="col">step · traffic</th><th scope="col">verdict</th><th scope="col">metrics</th></tr></thead>
        <tbody>
          ${recent.map((run) => html`<tr>
            <td>${when(run.at)}</td>
            <td>${run.step + 1} · ${percent(run.percent_traffic_to_new_version)}</td>
            <td><span class=${VERDICT_CLASS[run.verdict] ?? "chip"}>${run.verdict}</span></td>
            <td>${run.metrics.map((metric) => html`<div><code class="nowrap">${metric.name}</code> ${metric.verdict}: ${metric.message}</div>`)}</td>
          </tr>`)}
        </tbody>
      </table></div>`}
    </div>
  `;
}
