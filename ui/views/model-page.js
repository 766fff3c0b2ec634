import { api, paths } from "../api.js";
import { bus } from "../bus.js";
import { debounce } from "../format.js";
import { html, useEffect, useState } from "../html.js";
import { latestAnswer } from "../latest-answer.js";
import { AuditLog } from "./audit-log.js";
import { ConfirmDialog } from "./confirm.js";
import { DeploymentsTable } from "./deployments.js";
import { EnvironmentPanel } from "./environment-panel.js";

async function loadModel(modelId) {
  const [model, { environments }, { deployments }, { audit_logs: audit }] = await Promise.all([
    api("GET", paths.model(modelId)),
    api("GET", paths.environments(modelId)),
    api("GET", paths.deployments(modelId)),
    api("GET", paths.audit(modelId)),
  ]);
  const histories = await Promise.all(environments.map((environment) => api("GET", paths.promotions(modelId, environment.name)).then((body) => body.promotions)));
  return { model, environments, deployments, audit, promotions: Object.fromEntries(environments.map((environment, index) => [environment.name, histories[index]])) };
}

/**
 * The newer of two views of an environment's latest promotion. A refetch can answer after an event
 * that is newer than what it read (its request left first): the page must not step back to it.
 */
function newerPromotion(shown, fetched) {
  if (!shown || !fetched) return fetched ?? shown;
  if (shown.id !== fetched.id) return fetched.started_at >= shown.started_at ? fetched : shown;
  return shown.updated_at > fetched.updated_at ? shown : fetched;
}

function mergePromotions(current, next) {
  if (!current) return next;
  return {
    ...next,
    environments: next.environments.map((environment) => {
      const shown = current.environments.find((candidate) => candidate.name === environment.name)?.in_progress_promotion ?? null;
      const promotion = newerPromotion(shown, environment.in_progress_promotion);
      return promotion === environment.in_progress_promotion ? environment : { ...environment, in_progress_promotion: promotion };
    }),
  };
}

/** A promotion event applied at once (the live view moves with the event, not with the refetch). */
function withPromotion(data, event) {
  return {
    ...data,
    environments: data.environments.map((environment) =>
      environment.name === event.environment ? { ...environment, in_progress_promotion: newerPromotion(environment.in_progress_promotion, event.promotion) } : environment,
    ),
  };
}

export function ModelPage({ modelId, environmentName, canWrite }) {
  const [data, setData] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [actionError, setActionError] = useState(undefined);
  const [confirmRequest, setConfirmRequest] = useState(null);
  const [selected, setSelected] = useState(environmentName ?? "");

  useEffect(() => {
    const refresh = latestAnswer(
      () => loadModel(modelId),
      (result) => {
        setData((current) => mergePromotions(current, result));
        setError(undefined);
      },
      (failure) => setError(failure.message),
    );
    refresh();
    const later = debounce(refresh, 250);
    const unsubscribe = bus.subscribe((event) => {
      if (event.type === "reset") return later();
      if (event.model_id !== modelId) return;
      if (event.type === "promotion.changed") setData((current) => (current ? withPromotion(current, event) : current));
      later();
    });
    return () => {
      refresh.stop();
      unsubscribe();
    };
  }, [modelId]);

  if (error && !data) return html`<p class="error" role="alert">${error}</p>`;
  if (!data) return html`<p aria-busy="true">Loading…</p>`;
  const shown = data.environments.filter((environment) => selected === "" || environment.name === selected);
  return html`
    <section aria-labelledby="model-title">
      <p><a href="#/">← Models</a></p>
      <div class="row between">
        <h1 id="model-title">${data.model.name}</h1>
        <div class="field inline">
          <label for="model-env">Environment</label>
          <select id="model-env" value=${selected} onChange=${(event) => setSelected(event.currentTarget.value)}>
            <option value="">all</option>
            ${data.environments.map((environment) => html`<option value=${environment.name}>${environment.name}</option>`)}
          </select>
        </div>
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${actionError && html`<p class="error" role="alert">${actionError}</p>`}
      <div class="grid">
        ${shown.map(
          (environment) => html`<${EnvironmentPanel} key=${environment.name} modelId=${modelId} environment=${environment} deployments=${data.deployments}
            promotions=${data.promotions[environment.name] ?? []} canWrite=${canWrite} confirm=${setConfirmRequest} report=${setActionError} />`,
        )}
      </div>
      <${DeploymentsTable} modelId=${modelId} deployments=${data.deployments} canWrite=${canWrite} confirm=${setConfirmRequest} report=${setActionError} />
      <${AuditLog} entries=${data.audit} />
      <${ConfirmDialog} request=${confirmRequest} onClose=${() => setConfirmRequest(null)} />
    </section>
  `;
}
