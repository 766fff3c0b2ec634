// The modelplane console: sign in with an API key, then models, environments, deployments and
// live promotions — all from the /v1 API and its event stream (GET /v1/events).
import { api, ApiError, paths, session } from "./api.js";
import { bus } from "./bus.js";
import { followEvents } from "./event-stream.js";
import { html, render, useEffect, useState } from "./html.js";
import { ModelPage } from "./views/model-page.js";
import { ModelsView } from "./views/models.js";
import { SignIn } from "./views/sign-in.js";

/** `#/` → models; `#/models/<id>?env=<name>` → one model (hash routing: the server serves one page). */
function parseRoute(hash) {
  const [path, query = ""] = hash.replace(/^#/, "").split("?");
  const match = /^\/models\/([A-Za-z0-9_-]+)$/.exec(path ?? "");
  if (match) return { view: "model", modelId: match[1], environment: new URLSearchParams(query).get("env") ?? undefined };
  return { view: "models" };
}

/**
 * What the key may do, learnt from the API itself: the management API answers an admin key; any
 * other scope gets 403 with the reason, and the console then offers nothing (no data, no controls).
 */
async function probeAccess() {
  try {
    await api("GET", paths.models());
    return { kind: "admin" };
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return { kind: "unknown-key", message: error.message };
    if (error instanceof ApiError && error.status === 403) return { kind: "forbidden", message: error.message };
    return { kind: "unreachable", message: error.message };
  }
}

function LiveBadge({ status }) {
  const text = { live: "live", reconnecting: "reconnecting…", connecting: "connecting…", denied: "no live updates" }[status] ?? status;
  return html`<span class=${`live-badge ${status}`} role="status" data-testid="live-status">${text}</span>`;
}

function App() {
  const [signedIn, setSignedIn] = useState(session.key() !== null);
  const [access, setAccess] = useState(undefined);
  const [signInError, setSignInError] = useState(undefined);
  const [route, setRoute] = useState(parseRoute(location.hash));
  const [liveStatus, setLiveStatus] = useState("connecting");

  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);

  useEffect(() => {
    if (!signedIn) return;
    let live = true;
    probeAccess().then((result) => {
      if (!live) return;
      if (result.kind === "unknown-key") {
        session.signOut();
        setSignInError(result.message);
        setSignedIn(false);
        return;
      }
      setAccess(result);
    });
    return () => {
      live = false;
    };
  }, [signedIn]);

  useEffect(() => {
    if (access?.kind !== "admin") return;
    return followEvents({ onEvent: (event) => bus.emit(event), onStatus: setLiveStatus });
  }, [access]);

  if (!signedIn) {
    return html`<${SignIn} error=${signInError} onSignIn=${(key) => {
      session.signIn(key);
      setSignInError(undefined);
      setAccess(undefined);
      setSignedIn(true);
    }} />`;
  }
  const signOut = () => {
    session.signOut();
    setAccess(undefined);
    setSignedIn(false);
  };
  const canWrite = access?.kind === "admin";
  return html`
    <header class="top">
      <a class="brand" href="#/">modelplane</a>
      ${access?.kind === "admin" && html`<${LiveBadge} status=${liveStatus} />`}
      <button type="button" class="secondary" onClick=${signOut}>Sign out</button>
    </header>
    <main id="main">
      ${access === undefined
        ? html`<p aria-busy="true">Checking the key…</p>`
        : access.kind !== "admin"
          ? html`<section class="card" data-testid="no-access">
              <h1>Nothing to show for this key</h1>
              <p role="alert">${access.message}</p>
              <p>The console shows and changes what the management API does, which needs an admin key. Sign out and use one.</p>
            </section>`
          : route.view === "model"
            ? html`<${ModelPage} key=${route.modelId} modelId=${route.modelId} environmentName=${route.environment} canWrite=${canWrite} />`
            : html`<${ModelsView} />`}
    </main>
  `;
}

render(html`<${App} />`, document.getElementById("app"));
