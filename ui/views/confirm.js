import { html, useEffect, useRef } from "../html.js";

/**
 * A modal confirmation for disruptive actions (<dialog> gives focus trapping and Escape for free).
 * `request`: { title, message, confirmLabel, onConfirm } or null.
 */
export function ConfirmDialog({ request, onClose }) {
  const dialog = useRef(null);
  useEffect(() => {
    const element = dialog.current;
    if (!element) return;
    if (request && !element.open) element.showModal();
    if (!request && element.open) element.close();
  }, [request]);
  return html`
    <dialog ref=${dialog} aria-labelledby="confirm-title" onClose=${() => onClose()} onCancel=${() => onClose()}>
      ${request &&
      html`<form method="dialog" onSubmit=${(event) => {
        event.preventDefault();
        const action = request.onConfirm;
        onClose();
        action();
      }}>
        <h2 id="confirm-title">${request.title}</h2>
        <p>${request.message}</p>
        <div class="row end">
          <button type="button" class="secondary" onClick=${() => onClose()}>Keep as is</button>
          <button type="submit" class="danger" autofocus>${request.confirmLabel}</button>
        </div>
      </form>`}
    </dialog>
  `;
}
