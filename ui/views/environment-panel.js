import { api, paths } from "../api.js";
import { isRunning, percent, statusClass, when } from "../format.js";
import { html, useState } from "../html.js";
import { PromotionLive } from "./promotion-live.js";

/**
 * Promotion controls as the API names them; `disruptive` ones ask first. Which are offered
 * follows the promotion's status (an illegal one would only be a 409).
 */
const ACTIONS = [
  { path: "pause_promotion", label: "Pause", when: (p) => p.status === "RAMPING_UP" || p.status === "RELEASING" },
  // at the manual gate resume is refused: approve is what moves it on
  { path: "resume_promotion", label: "Resume", when: (p) => p.status === "PAUSED" && p.approval !== "waiting" },
  { path: "approve_promotion", label: "Approve", disruptive: "The candidate gets all the traffic.", when: (p) => p.approval === "waiting" },
  { path: "cancel_promotion", label: "Cancel", disruptive: "Traffic ramps back to the previous deployment.", when: () => true },
  { path: "force_cancel_promotion", label: "Force cancel", disruptive: "All traffic returns to the previous deployment now.", when: () => true },
  { path: "force_roll_forward_promotion", label: "Force roll forward", disruptive: "All traffic moves to the candidate now, whatever its readiness.", when: () => true },
];

function ReplicaSet({ label, deployment }) {
  if (!deployment) return null;
  return html`<tr>
    <td>${label}</td>
    <td>${deployment.name}</td>
    <td><span class=${statusClass(deployment.status)}>${deployment.status}</span></td>
    <td>${deployment.replicas.ready} / ${deployment.replicas.desired}${deployment.replicas.starting > 0 ? ` (+${deployment.replicas.starting} starting)` : ""}</td>
  </tr>`;
}

export function EnvironmentPanel({ modelId, environment, deployments, promotions, canWrite, confirm, report }) {
  const [target, setTarget] = useState("");
  const promotion = environment.in_progress_promotion;
  const running = isRunning(promotion);
  const base = paths.environment(modelId, environment.name);
  const act = (path, body) => api("POST", `${base}/${path}`, body).then(() => report(undefined), (error) => report(error.message));
  const candidates = deployments.filter((deployment) => deployment.id !== environment.current_deployment?.id && !deployment.is_development);
  const toCandidate = running ? promotion.percent_traffic_to_new_version : 0;
  const { autoscaling_settings: scaling } = environment;

  return html`
    <section class="card environment" aria-labelledby=${`env-${environment.name}`} data-environment=${environment.name}>
      <div class="row between">
        <h2 id=${`env-${environment.name}`}>${environment.name}</h2>
        <code class="muted">${environment.endpoint}</code>
      </div>
      <dl class="facts">
        <dt>current</dt><dd>${environment.current_deployment?.name ?? "—"}</dd>
        <dt>candidate</dt><dd>${environment.candidate_deployment?.name ?? "—"}</dd>
        <dt>traffic</dt><dd>${environment.current_deployment ? `${percent(100 - toCandidate)} current${running ? ` · ${percent(toCandidate)} candidate` : ""}` : "—"}</dd>
        <dt>autoscaling</dt><dd>${scaling.min_replica}–${scaling.max_replica} replicas, ${scaling.concurrency_target} concurrent per replica</dd>
        <dt>public</dt><dd>${environment.public ? "yes (predict needs no key)" : "no"}</dd>
      </dl>
      <table class="compact">
        <caption>Replica sets</caption>
        <thead><tr><th scope="col">role</th><th scope="col">deployment</th><th scope="col">status</th><th scope="col">ready / desired</th></tr></thead>
        <tbody>
          <${ReplicaSet} label="current" deployment=${environment.current_deployment} />
          <${ReplicaSet} label="candidate" deployment=${environment.candidate_deployment} />
        </tbody>
      </table>
      ${environment.variables.length > 0 &&
      html`<table class="compact">
        <caption>Variables</caption>
        <tbody>
          ${environment.variables.map((variable) => html`<tr><th scope="row"><code>${variable.name}</code></th><td>${variable.secret ? html`<span class="muted">•••••• (secret)</span>` : html`<code>${variable.value ?? ""}</code>`}</td></tr>`)}
        </tbody>
      </table>`}

      <h3>${running ? "Promotion in progress" : "Last promotion"}</h3>
      ${promotion ? html`<${PromotionLive} promotion=${promotion} />` : html`<p class="muted">No promotion yet.</p>`}

      ${canWrite &&
      html`<div class="controls" role="group" aria-label=${`promotion controls for ${environment.name}`}>
        ${running
          ? ACTIONS.filter((action) => action.when(promotion)).map(
              (action) => html`<button type="button" class=${action.disruptive ? "danger" : ""} onClick=${() =>
                action.disruptive
                  ? confirm({ title: `${action.label}: ${environment.name}?`, message: action.disruptive, confirmLabel: action.label, onConfirm: () => act(action.path) })
                  : act(action.path)}>${action.label}</button>`,
            )
          : html`
            <form class="row" onSubmit=${(event) => {
              event.preventDefault();
              if (target !== "") act("promote", { deployment_id: target });
            }}>
              <label for=${`promote-${environment.name}`}>Deployment</label>
              <select id=${`promote-${environment.name}`} value=${target} onChange=${(event) => setTarget(event.currentTarget.value)}>
                <option value="">choose…</option>
                ${candidates.map((deployment) => html`<option value=${deployment.id}>${deployment.name} (${deployment.status})</option>`)}
              </select>
              <button type="submit" disabled=${target === ""}>Promote</button>
            </form>
            ${environment.current_deployment &&
            html`<button type="button" class="danger" onClick=${() =>
              confirm({
                title: `Roll back ${environment.name}?`,
                message: "Promotes the environment's previous deployment again.",
                confirmLabel: "Roll back",
                onConfirm: () => act("rollback", {}),
              })}>Roll back</button>`}`}
      </div>`}

      <details>
        <summary>Promotion history (${promotions.length})</summary>
        <table class="compact">
          <thead><tr><th scope="col">started</th><th scope="col">kind</th><th scope="col">to</th><th scope="col">status</th><th scope="col">finished</th></tr></thead>
          <tbody>
            ${promotions.map((entry) => html`<tr>
              <td>${when(entry.started_at)}</td><td>${entry.kind}</td><td>${entry.deployment_name}</td>
              <td><span class=${statusClass(entry.status)}>${entry.status}</span></td><td>${when(entry.finished_at)}</td>
            </tr>`)}
          </tbody>
        </table>
      </details>
    </section>
  `;
}
