import { timingSafeEqual } from "node:crypto";
import { listLiveApiKeys, touchApiKeys, type ApiKeyRow } from "../store/api-keys.js";
import { listPublicEnvironments } from "../store/environments.js";
import type { SqlExecutor } from "../store/sql.js";
import type { DataPlaneTarget } from "../router/data-plane-path.js";
import { decideManagementAccess, decideMetricsAccess, decidePredictAccess, type AccessDecision, type KeyGrant, type ManagementDecision } from "./access-rules.js";
import { hashApiKey } from "./api-key-secret.js";
import { credentialOf } from "./credential.js";

export interface AccessViewOptions {
  /** only queries: the view reads keys and public environments, and writes last_used_at */
  sql: Pick<SqlExecutor, "query">;
  /** the engine's bootstrap admin key (option, MODELPLANE_API_KEY or `<data-dir>/api-key`) */
  bootstrapKey: string;
  /**
   * How often the view is re-read from the store, so that keys created or revoked (and
   * environments made public or private) through another engine on the same PostgreSQL take
   * effect here too; this engine's own changes take effect at once (the API refreshes before it
   * answers). Default 5 s: a revoke reaches every engine within 5 s plus one query.
   */
  resyncMs?: number;
  log?: (line: string) => void;
}

interface StoredGrant extends KeyGrant {
  hash: Buffer;
}

/**
 * Who may call what, in memory: live keys by the sha256 of their secret, and the public
 * environments. A request's check is one hash (~0.7 µs), one map lookup and one 32-byte
 * constant-time compare — no database. Rebuilt from the store on start, after every change made
 * through this engine's API, and every `resyncMs`.
 */
export class AccessView {
  readonly #sql: Pick<SqlExecutor, "query">;
  readonly #bootstrap: StoredGrant;
  readonly #resyncMs: number;
  readonly #log: (line: string) => void;
  #keys = new Map<string, StoredGrant>();
  /** model id → names of its public environments */
  #publicEnvironments = new Map<string, Set<string>>();
  /** ids of keys used since the last write of last_used_at */
  #used = new Set<string>();
  /** reloads in order: a slower, older read never replaces a newer one */
  #started = 0;
  #applied = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: AccessViewOptions) {
    this.#sql = options.sql;
    this.#resyncMs = options.resyncMs ?? 5_000;
    this.#log = options.log ?? (() => undefined);
    const keyHash = hashApiKey(options.bootstrapKey);
    this.#bootstrap = { id: "bootstrap", scope: "admin", modelIds: null, environmentNames: null, hash: Buffer.from(keyHash, "hex") };
    this.#keys.set(keyHash, this.#bootstrap);
  }

  /** First load, then the periodic resync. */
  async start(): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => {
      this.refresh().catch((error: unknown) => this.#log(`api keys: resync failed: ${(error as Error).message}`));
    }, this.#resyncMs);
    this.#timer.unref();
  }

  /** Re-reads keys and public environments from the store; writes pending last_used_at first. */
  async refresh(): Promise<void> {
    if (this.#closed) return;
    const sequence = ++this.#started;
    const used = [...this.#used];
    this.#used.clear();
    if (used.length > 0) {
      await touchApiKeys(this.#sql, used.filter((id) => id !== "bootstrap"), new Date().toISOString()).catch((error: unknown) => {
        this.#log(`api keys: could not record last use: ${(error as Error).message}`);
      });
    }
    const [rows, publicRows] = await Promise.all([listLiveApiKeys(this.#sql), listPublicEnvironments(this.#sql)]);
    if (sequence < this.#applied) return;
    this.#applied = sequence;
    const keys = new Map<string, StoredGrant>([[this.#bootstrap.hash.toString("hex"), this.#bootstrap]]);
    for (const row of rows) keys.set(row.key_hash, grantOf(row));
    const publicEnvironments = new Map<string, Set<string>>();
    for (const row of publicRows) {
      let names = publicEnvironments.get(row.model_id);
      if (names === undefined) publicEnvironments.set(row.model_id, (names = new Set()));
      names.add(row.name);
    }
    this.#keys = keys;
    this.#publicEnvironments = publicEnvironments;
  }

  /** The live key a credential names, if any. */
  grantFor(credential: string | undefined): KeyGrant | undefined {
    if (credential === undefined) return undefined;
    const keyHash = hashApiKey(credential);
    const grant = this.#keys.get(keyHash);
    // The lookup is by the hash, so its timing says nothing about the secret; the compare makes
    // the match itself constant-time as well.
    if (grant === undefined || !timingSafeEqual(Buffer.from(keyHash, "hex"), grant.hash)) return undefined;
    if (grant.id !== "bootstrap") this.#used.add(grant.id);
    return grant;
  }

  isPublic(modelId: string, environmentName: string): boolean {
    return this.#publicEnvironments.get(modelId)?.has(environmentName) === true;
  }

  /** A predict request, from its parsed target and its Authorization header value. */
  authorizePredict(target: DataPlaneTarget, authorization: string | undefined): AccessDecision {
    if (target.kind === "environment" && target.candidate !== true && this.isPublic(target.modelId, target.envName)) return decidePredictAccess(target, true, false, undefined);
    return decidePredictAccess(target, false, authorization !== undefined, this.grantFor(credentialOf(authorization)));
  }

  /** A management API request (`/v1/…`). */
  authorizeManagement(authorization: string | undefined): ManagementDecision {
    return decideManagementAccess(authorization !== undefined, this.grantFor(credentialOf(authorization)));
  }

  /** `GET /metrics`. */
  authorizeMetrics(authorization: string | undefined): AccessDecision {
    return decideMetricsAccess(authorization !== undefined, this.grantFor(credentialOf(authorization)));
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }
}

function grantOf(row: ApiKeyRow): StoredGrant {
  return {
    id: row.id,
    scope: row.scope,
    modelIds: row.model_ids === null ? null : new Set(row.model_ids),
    environmentNames: row.environment_names === null ? null : new Set(row.environment_names),
    hash: Buffer.from(row.key_hash, "hex"),
  };
}
