import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DataDirLockedError } from "../../engine/store/data-dir-lock.js";
import { rotateSecretKeyFile } from "../../engine/store/secret-key-source.js";
import { SecretKeyError } from "../../engine/store/secret-keyring.js";
import { startModelplane } from "../../engine/main.js";
import type { KubernetesRuntimeChoice } from "../../engine/runtime/kubernetes/start-kubernetes-runtime.js";
import { RuntimeStartError } from "../../engine/runtime/runtime-start-error.js";
import { defaultReplicaUser, lookupUser, type ReplicaUser } from "../../engine/runtime/process/replica-user.js";
import { takeEngineCredentials } from "../engine-credentials.js";
import { restartWithEngineNodeFlags } from "../engine-node-flags.js";
import { serveUsage } from "../serve-usage.js";
import { UsageError, type CliCommand } from "../usage-error.js";

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError(`--port must be 0–65535, got '${value}'`);
  return port;
}

/** How long a starting replica may take to answer its readiness path: 1 s to 1 h. */
function parseReadinessTimeout(value: string): number {
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) {
    throw new UsageError(`--readiness-timeout must be a whole number of seconds from 1 to 3600, got '${value}'`);
  }
  return seconds;
}

const PULL_POLICIES = ["IfNotPresent", "Always", "Never"] as const;
/** On SIGTERM, the clients' open connections are served this long (answers say `connection: close`)
 * before the idle ones are closed: a keep-alive client's next request is answered, not cut. Kept
 * within an engine pod's termination grace (30 s by default) with its preStop delay. */
const CONNECTION_DRAIN_MS = 2_000;

/** The Kubernetes runtime's settings from the flags, or undefined for the process runtime (the default). */
function kubernetesChoice(
  values: { runtime?: string; kubeconfig?: string; namespace?: string; "image-pull-policy"?: string },
  readinessTimeoutSeconds: number | undefined,
): KubernetesRuntimeChoice | undefined {
  const runtime = values.runtime ?? process.env.MODELPLANE_RUNTIME ?? "process";
  if (runtime !== "process" && runtime !== "kubernetes") throw new UsageError(`--runtime must be process or kubernetes, got '${runtime}'`);
  if (runtime === "process") {
    for (const flag of ["kubeconfig", "namespace", "image-pull-policy"] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} needs --runtime kubernetes`);
    }
    return undefined;
  }
  const given = values["image-pull-policy"];
  const pullPolicy = PULL_POLICIES.find((policy) => policy === given);
  if (given !== undefined && pullPolicy === undefined) throw new UsageError(`--image-pull-policy must be ${PULL_POLICIES.join(", ")}, got '${given}'`);
  const settings = {
    ...(pullPolicy !== undefined ? { imagePullPolicy: pullPolicy } : {}),
    ...(readinessTimeoutSeconds !== undefined ? { startupTimeoutSeconds: readinessTimeoutSeconds } : {}),
  };
  return {
    ...(values.kubeconfig !== undefined ? { kubeconfigPath: values.kubeconfig } : {}),
    ...(values.namespace !== undefined ? { namespace: values.namespace } : {}),
    ...(Object.keys(settings).length > 0 ? { settings } : {}),
  };
}

/**
 * Who replicas run as: --replica-user NAME|UID, else (engine running as root) the first of
 * DEFAULT_REPLICA_USERS that exists. Undefined: the engine's own user (`--replica-user root` as
 * root, or any engine not running as root).
 */
function chooseReplicaUser(given: string | undefined): ReplicaUser | undefined {
  const engineUid = process.getuid?.();
  if (given === undefined) return defaultReplicaUser(engineUid);
  const user = lookupUser(given);
  if (user === undefined) throw new UsageError(`--replica-user ${given}: no such user in /etc/passwd (create one: useradd --system --no-create-home modelplane-replica)`);
  if (user.uid === engineUid) return undefined;
  if (engineUid !== 0) throw new UsageError(`--replica-user ${given}: only an engine running as root can run replicas as another user`);
  return user;
}

/** --pass-env NAME: an engine variable replicas also get. Never one of the engine's own. */
function parsePassEnv(names: string[]): string[] {
  for (const name of names) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--pass-env ${name}: not a variable name`);
    if (name.startsWith("MODELPLANE_")) throw new UsageError(`--pass-env ${name}: the engine's own MODELPLANE_* settings never reach replicas`);
  }
  return names;
}

export const serveCommand: CliCommand = {
  ...serveUsage,
  async run(args) {
    // first: the restarted process reads the same arguments and environment again
    restartWithEngineNodeFlags();
    let values;
    try {
      ({ values } = parseArgs({
        args,
        options: {
          port: { type: "string" },
          host: { type: "string" },
          "data-dir": { type: "string" },
          "database-url": { type: "string" },
          "readiness-timeout": { type: "string" },
          runtime: { type: "string" },
          kubeconfig: { type: "string" },
          namespace: { type: "string" },
          "image-pull-policy": { type: "string" },
          "api-key-file": { type: "string" },
          "secret-key-file": { type: "string" },
          "database-url-file": { type: "string" },
          "replica-user": { type: "string" },
          "pass-env": { type: "string", multiple: true },
          "rotate-secret-key": { type: "boolean" },
          "prometheus-url": { type: "string" },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    // read once, then gone from the environment (engine-credentials.ts)
    const credentials = takeEngineCredentials(values, { databaseUrl: values["database-url"] });
    const databaseUrl = credentials.databaseUrl;
    const readinessTimeoutSeconds = values["readiness-timeout"] !== undefined ? parseReadinessTimeout(values["readiness-timeout"]) : undefined;
    const kubernetes = kubernetesChoice(values, readinessTimeoutSeconds);
    if (kubernetes !== undefined && (values["replica-user"] !== undefined || values["pass-env"] !== undefined)) {
      throw new UsageError("--replica-user and --pass-env are for --runtime process (pods run as their image says)");
    }
    const replicaUser = kubernetes === undefined ? chooseReplicaUser(values["replica-user"]) : undefined;
    const passEnv = parsePassEnv(values["pass-env"] ?? []);
    const runtimeOptions = {
      ...(readinessTimeoutSeconds !== undefined ? { startupTimeoutMs: readinessTimeoutSeconds * 1000 } : {}),
      ...(replicaUser !== undefined ? { replicaUser } : {}),
      ...(passEnv.length > 0 ? { passEnv } : {}),
    };
    const prometheusUrl = values["prometheus-url"];
    if (prometheusUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(prometheusUrl)) {
      throw new UsageError(`--prometheus-url must be an http(s) URL such as http://127.0.0.1:9090, got '${prometheusUrl}'`);
    }
    const dataDir = values["data-dir"] ?? process.env.MODELPLANE_DATA_DIR ?? "./.modelplane";
    if (values["rotate-secret-key"] === true) {
      if (credentials.secretKey !== undefined) {
        throw new UsageError("--rotate-secret-key rotates <data-dir>/secret-key; with MODELPLANE_SECRET_KEY or --secret-key-file, put the new key first and the old one after it, and restart");
      }
      const keyId = rotateSecretKeyFile(resolve(dataDir));
      process.stderr.write(`modelplane: new secret key ${keyId} first in ${join(resolve(dataDir), "secret-key")}; every secret is re-encrypted under it now\n`);
    }
    // everything the engine creates (PGlite's files, key files) is its user's only
    process.umask(0o077);
    const started = Date.now();
    // Opening the store is most of a start: PGlite creates its database on the first one (5–12 s
    // measured on 2 cores, 22 s on a loaded machine), then migrations run. Say so before the wait.
    const pgdata = join(resolve(dataDir), "pgdata");
    process.stderr.write(
      databaseUrl
        ? "modelplane: starting: connecting to PostgreSQL and bringing its schema up to date\n"
        : existsSync(pgdata)
          ? `modelplane: starting: opening the PGlite database in ${pgdata}\n`
          : `modelplane: starting: creating the PGlite database in ${pgdata} (first start only, about 10 s)\n`,
    );
    let engine;
    try {
      engine = await startModelplane({
        port: values.port !== undefined ? parsePort(values.port) : 7070,
        host: values.host ?? "127.0.0.1",
        dataDir,
        ...(databaseUrl ? { databaseUrl } : {}),
        ...(credentials.apiKey !== undefined ? { apiKey: credentials.apiKey } : {}),
        ...(credentials.secretKey !== undefined ? { secretKey: credentials.secretKey } : {}),
        ...(Object.keys(runtimeOptions).length > 0 ? { runtime: runtimeOptions } : {}),
        showGeneratedApiKey: process.stderr.isTTY === true,
        connectionDrainMs: CONNECTION_DRAIN_MS,
        ...(kubernetes !== undefined ? { kubernetes } : {}),
        ...(prometheusUrl !== undefined ? { prometheusUrl } : {}),
      });
    } catch (error) {
      if (error instanceof UsageError) throw error;
      const plain = error instanceof DataDirLockedError || error instanceof RuntimeStartError || error instanceof SecretKeyError;
      process.stderr.write(`modelplane: ${plain ? error.message : String((error as Error).stack ?? error)}\n`);
      return 1;
    }
    if (replicaUser !== undefined) {
      process.stderr.write(`modelplane: replicas run as user ${replicaUser.name} (uid ${replicaUser.uid}); --replica-user chooses another\n`);
    }
    process.stderr.write(`modelplane: started in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    // the one line scripts and tests wait for
    process.stdout.write(`modelplane engine listening on ${engine.url}\n`);
    const running = engine;
    return new Promise<number>((resolveExit) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`modelplane: ${signal}, shutting down\n`);
        running.close().then(
          () => resolveExit(0),
          (error: unknown) => {
            process.stderr.write(`modelplane: shutdown failed: ${String(error)}\n`);
            resolveExit(1);
          },
        );
      };
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
    });
  },
};
