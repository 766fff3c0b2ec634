import { api, paths } from "../api.js";
import { bus } from "../bus.js";
import { debounce, isRunning, percent, statusClass } from "../format.js";
import { html, useEffect, useMemo, useState } from "../html.js";
import { latestAnswer } from "../latest-answer.js";

/** Loads every model with its environments (one request per model: a console, not a hot path). */
async function loadOverview() {
  const { models } = await api("GET", paths.models());
  const environments = await Promise.all(models.map((model) => api("GET", paths.environments(model.id)).then((body) => body.environments)));
  return models.map((model, index) => ({ model, environments: environments[index] }));
}

function EnvironmentState({ modelId, environment }) {
  const promotion = environment.in_progress_promotion;
  return html`
    <div class="env-state">
      <a href=${`#/models/${modelId}?env=${environment.name}`}><strong>${environment.name}</strong></a>
      <span>${environment.current_deployment ? environment.current_deployment.name : html`<em>nothing deployed</em>`}</span>
      ${isRunning(promotion)
        ? html`<span class=${statusClass(promotion.status)}>${promotion.status} ${percent(promotion.percent_traffic_to_new_version)} → ${promotion.deployment_name}</span>`
        : environment.current_deployment && html`<span class=${statusClass(environment.current_deployment.status)}>${environment.current_deployment.status}</span>`}
    </div>
  `;
}

/** The models list with each environment's state, and an environment selector across models. */
export function ModelsView() {
  const [overview, setOverview] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [environmentFilter, setEnvironmentFilter] = useState("");

  useEffect(() => {
    const refresh = latestAnswer(
      loadOverview,
      (result) => {
        setOverview(result);
        setError(undefined);
      },
      (failure) => setError(failure.message),
    );
    refresh();
    const later = debounce(refresh, 300);
    const unsubscribe = bus.subscribe(later);
    return () => {
      refresh.stop();
      unsubscribe();
    };
  }, []);

  const environmentNames = useMemo(
    () => [...new Set((overview ?? []).flatMap((entry) => entry.environments.map((environment) => environment.name)))].sort(),
    [overview],
  );

  return html`
    <section aria-labelledby="models-title">
      <div class="row between">
        <h1 id="models-title">Models</h1>
        <div class="field inline">
          <label for="env-filter">Environment</label>
          <select id="env-filter" value=${environmentFilter} onChange=${(event) => setEnvironmentFilter(event.currentTarget.value)}>
            <option value="">all environments</option>
            ${environmentNames.map((name) => html`<option value=${name}>${name}</option>`)}
          </select>
        </div>
      </div>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${overview === undefined
        ? html`<p aria-busy="true">Loading…</p>`
        : overview.length === 0
          ? html`<p>No models yet. Create one with <code>modelplane models create NAME</code> or Pulumi.</p>`
          : html`
            <ul class="cards" aria-label="models">
              ${overview.map(({ model, environments }) => {
                const shown = environments.filter((environment) => environmentFilter === "" || environment.name === environmentFilter);
                if (environmentFilter !== "" && shown.length === 0) return null;
                return html`
                  <li class="card" data-model=${model.name}>
                    <h2><a href=${`#/models/${model.id}`}>${model.name}</a></h2>
                    <p class="muted">${model.deployments_count} deployment${model.deployments_count === 1 ? "" : "s"} · <code>${model.id}</code></p>
                    ${shown.map((environment) => html`<${EnvironmentState} modelId=${model.id} environment=${environment} />`)}
                  </li>
                `;
              })}
            </ul>`}
    </section>
  `;
}
