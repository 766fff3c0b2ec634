/**
 * The typed modelplane client: one undici connection pool per engine URL, every route of
 * `contract.ts` with request and response types inferred from its zod schemas, responses validated
 * by them, typed errors, timeouts, and retries with jittered back-off where a retry is safe.
 */
import { Pool, errors as undiciErrors, type Dispatcher } from "undici";
import type { z } from "zod";
import { errorFromBody, errorFromStatus, EngineUnavailableError, TimeoutError } from "./client-errors.js";
import { contract, fillPath, type Contract, type RouteBodyInput, type RouteName, type RouteQueryInput, type RouteResponse } from "./contract.js";
import { ErrorBody, ModelplaneError } from "./errors.js";
import { streamEvents, type EventsOptions, type StreamedEvent } from "./events.js";

export interface ClientOptions {
  /** engine URL, e.g. http://127.0.0.1:7070; default MODELPLANE_ENDPOINT, then http://127.0.0.1:7070 */
  endpoint?: string;
  /** admin API key; default MODELPLANE_API_KEY */
  apiKey?: string;
  /** per-request timeout (headers and body), default 30 s */
  timeoutMs?: number;
  /** how long idempotent calls keep retrying a down or restarting engine, default 15 s */
  retryBudgetMs?: number;
  /** an undici dispatcher of the caller's (a Pool or Agent: its own connections, limits, TLS); default
   * one pool of 16 connections per engine URL, shared by every client of this process */
  dispatcher?: Dispatcher;
}

/** Path parameters as a caller passes them (all strings). */
type ParamsOf<N extends RouteName> = z.input<Contract[N]["params"]>;

/** Arguments of `client.call`: params only when the route has some, body only when it takes one. */
export type CallArgs<N extends RouteName> = ({} extends ParamsOf<N> ? { params?: ParamsOf<N> } : { params: ParamsOf<N> }) &
  (RouteBodyInput<N> extends undefined ? { body?: undefined } : { body: RouteBodyInput<N> }) &
  (RouteQueryInput<N> extends undefined ? { query?: undefined } : { query?: RouteQueryInput<N> });

const pools = new Map<string, Pool>();

/** One pool per engine origin, shared by every client of that engine in this process. */
function poolFor(origin: string): Pool {
  let pool = pools.get(origin);
  if (!pool) {
    pool = new Pool(origin, { connections: 16, keepAliveTimeout: 10_000, connectTimeout: 5_000 });
    pools.set(origin, pool);
  }
  return pool;
}

/** Close every pooled connection (end of a CLI command or a test file). */
export async function closeAllClients(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((pool) => pool.close().catch(() => undefined)));
}

/** Network failures where the request certainly never reached the engine: safe to retry any call. */
function neverSent(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === "ECONNREFUSED" || code === "UND_ERR_CONNECT_TIMEOUT" || code === "ENOTFOUND" || code === "EAI_AGAIN";
}

/** Failures after which a retry is safe only for idempotent calls (the request may have been processed). */
function transient(error: unknown): boolean {
  if (error instanceof EngineUnavailableError) return true;
  const code = (error as { code?: string } | null)?.code;
  return neverSent(error) || code === "ECONNRESET" || code === "UND_ERR_SOCKET" || code === "EPIPE" || code === "UND_ERR_CLOSED";
}

/** Full jitter back-off: 100 ms doubling to 2 s, random in [0, cap] (AWS architecture blog's "full jitter"). */
export function backoffDelayMs(attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(2_000, 100 * 2 ** attempt);
  return Math.max(25, Math.floor(random() * cap));
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });

export class ModelplaneClient {
  readonly endpoint: string;
  readonly #apiKey: string | undefined;
  readonly #timeoutMs: number;
  readonly #retryBudgetMs: number;
  readonly #pool: Dispatcher;

  constructor(options: ClientOptions = {}) {
    const endpoint = options.endpoint ?? process.env.MODELPLANE_ENDPOINT ?? "http://127.0.0.1:7070";
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new ModelplaneError("VALIDATION_FAILED", `endpoint: not a URL: ${endpoint}`, { fields: [{ path: "endpoint", rule: "url", message: "must be an http(s) URL" }] });
    }
    this.endpoint = url.origin;
    this.#apiKey = options.apiKey ?? process.env.MODELPLANE_API_KEY;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#retryBudgetMs = options.retryBudgetMs ?? 15_000;
    this.#pool = options.dispatcher ?? poolFor(this.endpoint);
  }

  /** The Authorization header value this client sends (undefined without a key), for a predict
   * request made by hand: the data plane needs a key too, unless the environment is public. */
  get authorization(): string | undefined {
    return this.#apiKey ? `Api-Key ${this.#apiKey}` : undefined;
  }

  // API keys
  /** Creates a key; the answer's `key` is its secret, shown this once. */
  createApiKey(body: RouteBodyInput<"createApiKey">, options: { signal?: AbortSignal } = {}): Promise<RouteResponse<"createApiKey">> {
    return this.call("createApiKey", { body }, options);
  }
  /** Live keys, without their secrets. */
  async listApiKeys(options: { signal?: AbortSignal } = {}): Promise<RouteResponse<"listApiKeys">["api_keys"]> {
    return (await this.call("listApiKeys", {}, options)).api_keys;
  }
  /** Revokes a key: refused at once by this engine, by every engine within its resync period. */
  revokeApiKey(apiKeyId: string, options: { signal?: AbortSignal } = {}): Promise<RouteResponse<"revokeApiKey">> {
    return this.call("revokeApiKey", { params: { api_key_id: apiKeyId } }, options);
  }

  // workspace environments
  /** Creates a workspace environment: every model gets an environment of it. */
  createWorkspaceEnvironment(
    body: RouteBodyInput<"createWorkspaceEnvironment">,
    options: { signal?: AbortSignal } = {},
  ): Promise<RouteResponse<"createWorkspaceEnvironment">> {
    return this.call("createWorkspaceEnvironment", { body }, options);
  }
  /** Workspace environments in chain order (what requires nothing first). */
  async listWorkspaceEnvironments(options: { signal?: AbortSignal } = {}): Promise<RouteResponse<"listWorkspaceEnvironments">["environments"]> {
    return (await this.call("listWorkspaceEnvironments", {}, options)).environments;
  }
  getWorkspaceEnvironment(name: string, options: { signal?: AbortSignal } = {}): Promise<RouteResponse<"getWorkspaceEnvironment">> {
    return this.call("getWorkspaceEnvironment", { params: { env_name: name } }, options);
  }
  /** Variables and secrets merge by name (null deletes); every model environment whose values change rolls. */
  patchWorkspaceEnvironment(
    name: string,
    body: RouteBodyInput<"patchWorkspaceEnvironment">,
    options: { signal?: AbortSignal } = {},
  ): Promise<RouteResponse<"patchWorkspaceEnvironment">> {
    return this.call("patchWorkspaceEnvironment", { params: { env_name: name }, body }, options);
  }
  deleteWorkspaceEnvironment(name: string, options: { signal?: AbortSignal } = {}): Promise<RouteResponse<"deleteWorkspaceEnvironment">> {
    return this.call("deleteWorkspaceEnvironment", { params: { env_name: name } }, options);
  }
  /** What serves a workspace environment in every model. */
  async listWorkspaceEnvironmentDeployments(
    name: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<RouteResponse<"listWorkspaceEnvironmentDeployments">["deployments"]> {
    return (await this.call("listWorkspaceEnvironmentDeployments", { params: { env_name: name } }, options)).deployments;
  }
  /** Each deployment's position in the promotion chain: passed, soaking since, blocked by what. */
  modelChain(modelId: string, options: { signal?: AbortSignal } = {}): Promise<RouteResponse<"getModelChain">> {
    return this.call("getModelChain", { params: { model_id: modelId } }, options);
  }

  // shadow serving
  /** The live comparison of an environment's shadow with its primary (this engine's counts). */
  shadowReport(modelId: string, environmentName: string, options: { signal?: AbortSignal } = {}): Promise<RouteResponse<"getShadow">> {
    return this.call("getShadow", { params: { model_id: modelId, env_name: environmentName } }, options);
  }

  /**
   * The engine's state changes as they happen (`GET /v1/events`), reconnecting by itself and
   * resuming after the last event it gave; a `reset` event means refetch (see sdk/events.ts).
   * Ends when `signal` aborts or the caller stops iterating.
   */
  events(options: EventsOptions = {}): AsyncGenerator<StreamedEvent, void, undefined> {
    return streamEvents(this.#pool, this.authorization, options);
  }

  /** Call any route of the contract by name. */
  async call<N extends RouteName>(name: N, args: CallArgs<N>, options: { signal?: AbortSignal } = {}): Promise<RouteResponse<N>> {
    const route = contract[name];
    return this.#request(name, args, options, (text) => route.response.parse(text === "" ? {} : JSON.parse(text)) as RouteResponse<N>);
  }

  /**
   * `call`, answered with the body's text as the engine sent it, once all of it has arrived:
   * neither parsed nor checked against the contract. For a load generator timing the API to its
   * last byte (bench/scale), or a proxy passing answers on. Errors and retries are call's.
   */
  async callText<N extends RouteName>(name: N, args: CallArgs<N>, options: { signal?: AbortSignal } = {}): Promise<string> {
    return this.#request(name, args, options, (text) => text);
  }

  /** A route's request, retried as its idempotence allows; a 2xx answer's body text becomes `answer(text)`. */
  async #request<N extends RouteName, T>(name: N, args: CallArgs<N>, options: { signal?: AbortSignal }, answer: (text: string) => T): Promise<T> {
    const route = contract[name];
    const params = (args.params ?? {}) as Record<string, string>;
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries((args.query ?? {}) as Record<string, string | undefined>)) if (value !== undefined) query.set(key, value);
    const path = fillPath(route.path, params) + (query.size > 0 ? `?${query.toString()}` : "");
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return answer(await this.#send(route.method, path, args.body, options.signal));
      } catch (error) {
        const retryable = route.idempotent ? transient(error) : neverSent(error);
        if (!retryable || options.signal?.aborted || Date.now() - started > this.#retryBudgetMs) {
          throw this.#wrap(error, route.method, path);
        }
        await sleep(backoffDelayMs(attempt), options.signal);
      }
    }
  }

  /** One request; resolves with a 2xx answer's body text, throws the error an other answer's body names. */
  async #send(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<string> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#apiKey) headers.authorization = `Api-Key ${this.#apiKey}`;
    let payload: string | undefined;
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const response = await this.#pool.request({
      method: method as Dispatcher.HttpMethod,
      path,
      headers,
      body: payload,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
      signal,
    });
    const text = await response.body.text();
    if (response.statusCode >= 200 && response.statusCode < 300) return text;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw errorFromStatus(response.statusCode, text);
    }
    const errorBody = ErrorBody.safeParse(parsed);
    throw errorBody.success ? errorFromBody(errorBody.data) : errorFromStatus(response.statusCode, text);
  }

  #wrap(error: unknown, method: string, path: string): Error {
    if (error instanceof ModelplaneError) return error;
    if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
      return new TimeoutError("TIMEOUT", `${method} ${path}: no answer from ${this.endpoint} within ${this.#timeoutMs} ms`, {}, { cause: error });
    }
    if (transient(error)) {
      const code = (error as { code?: string }).code ?? "network error";
      return new EngineUnavailableError("ENGINE_UNAVAILABLE", `${method} ${path}: engine at ${this.endpoint} unreachable (${code})`, {}, { cause: error });
    }
    if ((error as { name?: string } | null)?.name === "ZodError") {
      return new ModelplaneError("INTERNAL", `${method} ${path}: the engine's response does not match the contract: ${(error as Error).message}`, {}, { cause: error });
    }
    return error instanceof Error ? error : new Error(String(error));
  }
}
