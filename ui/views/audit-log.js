import { when } from "../format.js";
import { html } from "../html.js";

/** A model's audit log, newest first, as the API returns it. */
export function AuditLog({ entries }) {
  return html`
    <section class="card" aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <div class="scroll">
        <table data-testid="audit-log">
          <thead><tr><th scope="col">when</th><th scope="col">what</th><th scope="col">object</th><th scope="col">details</th></tr></thead>
          <tbody>
            ${entries.map((entry) => html`<tr data-kind=${entry.kind}>
              <td>${when(entry.at)}</td><td><code class="nowrap">${entry.kind}</code></td><td>${entry.object_name}</td>
              <td><code class="small">${entry.details && Object.keys(entry.details).length > 0 ? JSON.stringify(entry.details) : ""}</code></td>
            </tr>`)}
          </tbody>
        </table>
      </div>
    </section>
  `;
}
