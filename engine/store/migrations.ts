import type { Sql } from "./sql.js";

/**
 * Versioned schema migrations, applied in order, each in its own transaction, recorded in
 * `schema_migrations`. Never edit a released migration: append a new one.
 *
 * Deleted models, deployments and environments are soft-deleted (`deleted_at`): their rows stay
 * for the audit and usage history, and uniqueness only applies among live rows.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "control plane objects",
    sql: `
CREATE TABLE models (
  id text PRIMARY KEY,
  name text NOT NULL,
  -- next N of the default deployment-N name; never reused, even after deletes
  next_deployment_number integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL,
  deleted_at timestamptz
);
CREATE UNIQUE INDEX models_name_live ON models (name) WHERE deleted_at IS NULL;

CREATE TABLE deployments (
  id text PRIMARY KEY,
  model_id text NOT NULL REFERENCES models (id),
  name text NOT NULL,
  is_development boolean NOT NULL,
  -- how to run a replica: command, cwd, image, port, readiness_path, predict_path, env, resources
  spec jsonb NOT NULL,
  autoscaling_settings jsonb NOT NULL,
  active boolean NOT NULL DEFAULT true,
  status text NOT NULL,
  error_message text,
  replicas_desired integer NOT NULL DEFAULT 0,
  replicas_ready integer NOT NULL DEFAULT 0,
  replicas_starting integer NOT NULL DEFAULT 0,
  revision integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  deleted_at timestamptz,
  CONSTRAINT deployments_development_name CHECK (is_development = (name = 'development'))
);
CREATE UNIQUE INDEX deployments_name_live ON deployments (model_id, name) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX deployments_one_development ON deployments (model_id) WHERE is_development AND deleted_at IS NULL;

CREATE TABLE promotion_settings (
  id text PRIMARY KEY,
  name text NOT NULL,
  settings jsonb NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  deleted_at timestamptz
);

CREATE TABLE environments (
  id text PRIMARY KEY,
  model_id text NOT NULL REFERENCES models (id),
  name text NOT NULL,
  current_deployment_id text REFERENCES deployments (id),
  -- what served before the last successful promotion: the target of a rollback
  previous_deployment_id text REFERENCES deployments (id),
  autoscaling_settings jsonb NOT NULL,
  inline_promotion_settings jsonb NOT NULL,
  promotion_settings_id text REFERENCES promotion_settings (id),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  deleted_at timestamptz
);
CREATE UNIQUE INDEX environments_name_live ON environments (model_id, name) WHERE deleted_at IS NULL;
CREATE INDEX environments_current_deployment ON environments (current_deployment_id) WHERE deleted_at IS NULL;

-- production goes only with its model: the service checks first, this is the last line of defence
CREATE FUNCTION environments_keep_production() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.name = 'production' AND OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
     AND EXISTS (SELECT 1 FROM models WHERE id = NEW.model_id AND deleted_at IS NULL) THEN
    RAISE EXCEPTION 'the production environment cannot be deleted' USING ERRCODE = 'P0001',
      CONSTRAINT = 'environments_keep_production';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER environments_keep_production BEFORE UPDATE ON environments
  FOR EACH ROW EXECUTE FUNCTION environments_keep_production();

CREATE TABLE variables (
  environment_id text NOT NULL REFERENCES environments (id),
  name text NOT NULL,
  -- secret values are stored as given: the service never returns or logs them
  value text NOT NULL,
  secret boolean NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (environment_id, name)
);

CREATE TABLE promotions (
  id text PRIMARY KEY,
  model_id text NOT NULL REFERENCES models (id),
  environment_id text NOT NULL REFERENCES environments (id),
  environment_name text NOT NULL,
  deployment_id text NOT NULL REFERENCES deployments (id),
  previous_deployment_id text REFERENCES deployments (id),
  kind text NOT NULL,
  status text NOT NULL,
  percent_traffic_to_new_version double precision NOT NULL DEFAULT 0,
  error_message text,
  step integer NOT NULL DEFAULT 0,
  total_steps integer NOT NULL DEFAULT 0,
  phase text NOT NULL DEFAULT '',
  replicas jsonb NOT NULL,
  -- the effective promotion settings when it started (later edits do not change a running promotion)
  settings jsonb NOT NULL,
  -- the planner's own state; opaque to the store
  planner_state jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- requested actions (pause, resume, cancel, force_*) not yet applied by the reconciler
  pending_actions jsonb NOT NULL DEFAULT '[]'::jsonb,
  timeout_seconds integer,
  -- compare-and-set: every write checks and bumps it
  version integer NOT NULL DEFAULT 1,
  started_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  finished_at timestamptz
);
-- at most one promotion in progress per environment
CREATE UNIQUE INDEX promotions_one_in_progress ON promotions (environment_id)
  WHERE status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELED');
CREATE INDEX promotions_environment_started ON promotions (environment_id, started_at DESC);
CREATE INDEX promotions_status ON promotions (status);

-- work ownership between engines on one PostgreSQL (leader lease, fencing epoch)
CREATE TABLE leases (
  name text PRIMARY KEY,
  holder text,
  epoch integer NOT NULL DEFAULT 0,
  expires_at timestamptz,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_logs (
  seq integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text NOT NULL UNIQUE,
  model_id text,
  at timestamptz NOT NULL,
  kind text NOT NULL,
  object_id text NOT NULL,
  object_name text NOT NULL,
  -- never holds secret values
  details jsonb NOT NULL
);
CREATE INDEX audit_logs_model ON audit_logs (model_id, seq DESC);
`,
  },
  {
    version: 2,
    name: "secret values encrypted at rest",
    sql: `
-- the key a secret's value is encrypted with (secret-keyring.ts); its value is then base64 of
-- iv, auth tag and ciphertext. NULL for plain variables, and for secrets written before this
-- migration, which the engine encrypts at start (openStore).
ALTER TABLE variables ADD COLUMN key_id text;
`,
  },
  {
    version: 3,
    name: "api keys and public environments",
    sql: `
-- keys for the management API and the data plane; the secret itself is never stored, only its
-- sha256 (a 256-bit random secret needs no salt or slow hash: nothing to brute-force)
CREATE TABLE api_keys (
  id text PRIMARY KEY,
  name text NOT NULL,
  scope text NOT NULL CHECK (scope IN ('admin', 'inference', 'metrics')),
  -- inference keys: the models / environment names it may call; NULL = all
  model_ids jsonb,
  environment_names jsonb,
  -- the secret's first characters, to recognise a key in a list
  prefix text NOT NULL,
  key_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL,
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE UNIQUE INDEX api_keys_name_live ON api_keys (name) WHERE revoked_at IS NULL;

-- opt-in: predict on a public environment needs no key
ALTER TABLE environments ADD COLUMN public boolean NOT NULL DEFAULT false;
`,
  },
  {
    version: 4,
    name: "drop promotions.pending_actions",
    sql: `
-- never read: promotion actions are applied in the request's transaction (engine/service/promotions.ts)
ALTER TABLE promotions DROP COLUMN pending_actions;
`,
  },
  {
    version: 5,
    name: "replica sets with their desired counts",
    sql: `
-- What the runtime is asked to run, per replica set: written only by the engine holding the
-- 'control' lease (engine/control/control-lease.ts), read by every engine, so that engines on one
-- PostgreSQL converge on one count and a restarted engine restores each set's count exactly.
CREATE TABLE replica_sets (
  id text PRIMARY KEY,
  deployment_id text NOT NULL REFERENCES deployments (id),
  -- NULL: the deployment's own set (per-deployment endpoint, development deployment)
  environment text,
  -- own | serving | candidate | kept (warm for a rollback after a KEEP cleanup, out of traffic)
  role text NOT NULL CHECK (role IN ('own', 'serving', 'candidate', 'kept')),
  desired integer NOT NULL CHECK (desired >= 0),
  updated_at timestamptz NOT NULL
);
CREATE INDEX replica_sets_deployment ON replica_sets (deployment_id);
`,
  },
  {
    version: 6,
    name: "promotion settings carry analysis",
    sql: `
-- promotion_settings.analysis (sdk/schemas/promotion-analysis.ts) is part of the full settings
-- every reader expects: settings stored before it existed have none.
UPDATE environments SET inline_promotion_settings = inline_promotion_settings || '{"analysis": null}'::jsonb
  WHERE NOT (inline_promotion_settings ? 'analysis');
UPDATE promotion_settings SET settings = settings || '{"analysis": null}'::jsonb WHERE NOT (settings ? 'analysis');
`,
  },
  {
    version: 7,
    name: "promotion settings carry confirm_promotion",
    sql: `
-- promotion_settings.confirm_promotion (the manual gate): settings stored before it existed have none.
UPDATE environments SET inline_promotion_settings = inline_promotion_settings || '{"confirm_promotion": false}'::jsonb
  WHERE NOT (inline_promotion_settings ? 'confirm_promotion');
UPDATE promotion_settings SET settings = settings || '{"confirm_promotion": false}'::jsonb WHERE NOT (settings ? 'confirm_promotion');
`,
  },
  {
    version: 8,
    name: "promotion settings carry webhooks",
    sql: `
-- promotion_settings.webhooks (the webhook gates): settings stored before they existed have none.
UPDATE environments SET inline_promotion_settings = inline_promotion_settings || '{"webhooks": []}'::jsonb
  WHERE NOT (inline_promotion_settings ? 'webhooks');
UPDATE promotion_settings SET settings = settings || '{"webhooks": []}'::jsonb WHERE NOT (settings ? 'webhooks');
`,
  },
  {
    version: 9,
    name: "workspace environments",
    sql: `
-- Environments defined once for every model: variables, secrets, default promotion settings and
-- the promotion chain (requires, min_soak_seconds).
CREATE TABLE workspace_environments (
  id text PRIMARY KEY,
  name text NOT NULL,
  description text NOT NULL DEFAULT '',
  inline_promotion_settings jsonb NOT NULL,
  promotion_settings_id text REFERENCES promotion_settings (id),
  -- the name of the live workspace environment a deployment must have passed first
  requires text,
  min_soak_seconds integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  deleted_at timestamptz
);
CREATE UNIQUE INDEX workspace_environments_name_live ON workspace_environments (name) WHERE deleted_at IS NULL;

-- As variables: a secret's value is encrypted (key_id names the key).
CREATE TABLE workspace_variables (
  workspace_environment_id text NOT NULL REFERENCES workspace_environments (id),
  name text NOT NULL,
  value text NOT NULL,
  secret boolean NOT NULL,
  key_id text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (workspace_environment_id, name)
);

-- A model's environment of a workspace environment; inherit_promotion_settings: it uses the
-- workspace's default promotion settings (until the model sets its own).
ALTER TABLE environments ADD COLUMN workspace_environment_id text REFERENCES workspace_environments (id);
ALTER TABLE environments ADD COLUMN inherit_promotion_settings boolean NOT NULL DEFAULT false;
CREATE INDEX environments_workspace ON environments (workspace_environment_id) WHERE deleted_at IS NULL;
`,
  },
  {
    version: 10,
    name: "environment shadow and header routing",
    sql: `
-- environments.shadow: the shadow that gets copies of the environment's requests (sdk/schemas/shadow.ts);
-- environments.header_routing: which requests a header or cookie sends to the candidate. NULL: none.
ALTER TABLE environments ADD COLUMN shadow jsonb;
ALTER TABLE environments ADD COLUMN header_routing jsonb;
`,
  },
  {
    version: 11,
    name: "the secret key engines sharing a database agree on",
    sql: `
-- The id (a hash, never the key) of the key the engines sharing this database encrypt secrets with
-- (engine/store/secret-key-check.ts): an engine started with another key stops at start instead of
-- writing secrets the others cannot read and failing to read theirs. One row.
CREATE TABLE secret_key (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  key_id text NOT NULL,
  recorded_at timestamptz NOT NULL
);
`,
  },
  // 12 is the shadow work's.
  {
    version: 13,
    name: "each engine's router load per replica set",
    sql: `
-- With several engines on one PostgreSQL, each counts only the requests its own router receives;
-- the leader's autoscaler adds the others' load (engine/autoscaler/cluster-load.ts). One row per
-- (engine, replica set) with load: the mean in flight over the last report period, the requests
-- the engine's router ever received for the set, and when (the database's clock). Rows are
-- rewritten every 2 s while a set has load; the leader deletes those older than the TTL.
CREATE TABLE engine_load (
  engine_id text NOT NULL,
  replica_set_id text NOT NULL,
  in_flight double precision NOT NULL,
  requests bigint NOT NULL,
  sampled_at timestamptz NOT NULL,
  PRIMARY KEY (engine_id, replica_set_id)
);
`,
  },
  {
    version: 14,
    name: "a model's live deployments counted on its row",
    sql: `
-- GET /v1/models summarised each model with correlated subqueries (count its live deployments, find
-- its development deployment): ~26 ms of the embedded store's one session for 1,000 models and
-- 10,000 deployments, several times a second in bench/scale, every other statement waiting behind.
-- Kept on the model's row by the database itself, whichever statement creates or deletes a
-- deployment. Every service path that does locks the model row first (service/deployments.ts,
-- models.ts), so the trigger's update of it orders no locks differently.
ALTER TABLE models ADD COLUMN deployments_count integer NOT NULL DEFAULT 0;
ALTER TABLE models ADD COLUMN development_deployment_id text;
UPDATE models SET
  deployments_count = (SELECT count(*) FROM deployments WHERE model_id = models.id AND deleted_at IS NULL),
  development_deployment_id = (SELECT id FROM deployments WHERE model_id = models.id AND is_development AND deleted_at IS NULL);
CREATE FUNCTION deployments_summarise_model() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.deleted_at IS NULL AND (TG_OP = 'INSERT' OR OLD.deleted_at IS NOT NULL) THEN
    UPDATE models SET deployments_count = deployments_count + 1,
      development_deployment_id = CASE WHEN NEW.is_development THEN NEW.id ELSE development_deployment_id END
      WHERE id = NEW.model_id;
  ELSIF TG_OP = 'UPDATE' AND NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL THEN
    UPDATE models SET deployments_count = deployments_count - 1,
      development_deployment_id = CASE WHEN development_deployment_id = NEW.id THEN NULL ELSE development_deployment_id END
      WHERE id = NEW.model_id;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER deployments_summarise_model AFTER INSERT OR UPDATE OF deleted_at ON deployments
  FOR EACH ROW EXECUTE FUNCTION deployments_summarise_model();
`,
  },
];

/** Apply pending migrations. Safe when several engines start at once: an advisory lock orders them. */
export async function migrate(sql: Sql, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  await sql.transaction(async (tx) => {
    // 7070: arbitrary advisory lock key reserved for modelplane migrations
    await tx.query("SELECT pg_advisory_xact_lock(7070)");
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  });
  const applied: number[] = [];
  for (const migration of migrations) {
    const ran = await sql.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(7070)");
      const done = await tx.query("SELECT 1 FROM schema_migrations WHERE version = $1", [migration.version]);
      if (done.length > 0) return false;
      await tx.exec(migration.sql);
      await tx.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [migration.version, migration.name]);
      return true;
    });
    if (ran) applied.push(migration.version);
  }
  return applied;
}
