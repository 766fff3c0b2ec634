import { api, paths } from "../api.js";
import { statusClass, when } from "../format.js";
import { html, useState } from "../html.js";

function RenameForm({ deployment, onRename, onCancel }) {
  const [name, setName] = useState(deployment.name);
  return html`<form class="row" onSubmit=${(event) => {
    event.preventDefault();
    onRename(name.trim());
  }}>
    <label class="visually-hidden" for=${`rename-${deployment.id}`}>New name for ${deployment.name}</label>
    <input id=${`rename-${deployment.id}`} value=${name} pattern="[a-z0-9-]{1,63}" required onInput=${(event) => setName(event.currentTarget.value)} />
    <button type="submit">Save</button>
    <button type="button" class="secondary" onClick=${onCancel}>Cancel</button>
  </form>`;
}

/** A model's deployments: status, replicas, endpoint; activate, deactivate, rename, delete. */
export function DeploymentsTable({ modelId, deployments, canWrite, confirm, report }) {
  const [renaming, setRenaming] = useState(undefined);
  const call = (method, path, body) => api(method, path, body).then(() => report(undefined), (error) => report(error.message));
  return html`
    <section class="card" aria-labelledby="deployments-title">
      <h2 id="deployments-title">Deployments</h2>
      <div class="scroll">
        <table>
          <thead><tr>
            <th scope="col">name</th><th scope="col">status</th><th scope="col">environment</th><th scope="col">replicas</th>
            <th scope="col">endpoint</th><th scope="col">created</th>${canWrite && html`<th scope="col">actions</th>`}
          </tr></thead>
          <tbody>
            ${deployments.map((deployment) => {
              const path = paths.deployment(modelId, deployment.id);
              return html`<tr data-deployment=${deployment.name}>
                <td>${renaming === deployment.id
                  ? html`<${RenameForm} deployment=${deployment} onCancel=${() => setRenaming(undefined)}
                      onRename=${(name) => call("PATCH", path, { name }).then(() => setRenaming(undefined))} />`
                  : deployment.name}${deployment.is_development ? html` <span class="chip muted">development</span>` : ""}</td>
                <td><span class=${statusClass(deployment.status)}>${deployment.status}</span>${deployment.error_message && html`<div class="error small">${deployment.error_message}</div>`}</td>
                <td>${deployment.environment ?? "—"}</td>
                <td>${deployment.replicas.ready} / ${deployment.replicas.desired}</td>
                <td><code class="small">/models/${modelId}/deployment/${deployment.id}/predict</code></td>
                <td>${when(deployment.created_at)}</td>
                ${canWrite &&
                html`<td class="actions">
                  ${deployment.active
                    ? html`<button type="button" class="secondary" onClick=${() =>
                        confirm({
                          title: `Deactivate ${deployment.name}?`,
                          message: "Its replicas stop; predict on it answers 404 until it is activated again.",
                          confirmLabel: "Deactivate",
                          onConfirm: () => call("POST", `${path}/deactivate`),
                        })}>Deactivate</button>`
                    : html`<button type="button" class="secondary" onClick=${() => call("POST", `${path}/activate`)}>Activate</button>`}
                  ${!deployment.is_development && html`<button type="button" class="secondary" onClick=${() => setRenaming(deployment.id)}>Rename</button>`}
                  <button type="button" class="danger" onClick=${() =>
                    confirm({
                      title: `Delete ${deployment.name}?`,
                      message: "The deployment and its replicas are removed. This cannot be undone.",
                      confirmLabel: "Delete",
                      onConfirm: () => call("DELETE", path),
                    })}>Delete</button>
                </td>`}
              </tr>`;
            })}
          </tbody>
        </table>
      </div>
    </section>
  `;
}
