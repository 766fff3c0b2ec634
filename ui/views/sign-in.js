import { html, useState } from "../html.js";

/** The key is typed here and kept in sessionStorage only (never in the URL, never logged). */
export function SignIn({ onSignIn, error }) {
  const [key, setKey] = useState("");
  return html`
    <main class="sign-in">
      <h1>modelplane</h1>
      <form onSubmit=${(event) => {
        event.preventDefault();
        if (key.trim() !== "") onSignIn(key.trim());
      }}>
        <label for="api-key">API key</label>
        <input id="api-key" name="api-key" type="password" autocomplete="off" spellcheck="false" required
          value=${key} onInput=${(event) => setKey(event.currentTarget.value)} />
        <p class="hint">An admin key (<code>modelplane keys create NAME --scope admin</code>, or the engine's own key in
          <code>.modelplane/api-key</code>). It stays in this browser tab only.</p>
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <button type="submit">Sign in</button>
      </form>
    </main>
  `;
}
