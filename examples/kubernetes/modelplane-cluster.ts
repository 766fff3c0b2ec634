/**
 * The modelplane engine on a Kubernetes cluster: its namespace, the identity and RBAC its
 * Kubernetes runtime needs, PostgreSQL for its state, the engine Deployment and its Service.
 *
 * Every object gets a fixed `metadata.name` (no Pulumi auto-naming suffix) because other objects
 * refer to them by name: the engine reaches PostgreSQL at `postgres:5432`, pods mount Secrets by
 * name, the RoleBinding names the Role and the ServiceAccount.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface ModelplaneClusterSettings {
  /** engine image, e.g. `ghcr.io/acme/modelplane:0.1.0`; its entry point is the `modelplane` CLI */
  image: string;
  /**
   * How the image runs the `modelplane` CLI (default `["modelplane"]`); e.g. `["node",
   * "/app/dist/cli/main.js"]` for the image scripts/kubernetes/build-engine-image.sh builds.
   */
  engineCommand?: string[];
  /**
   * The pull policy of the model images the engine's runtime starts (`serve --image-pull-policy`):
   * `Never` for images imported on the nodes without a registry. Default: the runtime's, IfNotPresent.
   */
  modelImagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /**
   * Whether the cluster resolves Service names (default true). Without cluster DNS (a bare test
   * cluster), the engine reaches PostgreSQL at its Service's ClusterIP instead of
   * `postgres.<namespace>.svc.cluster.local` (that Service then gets one: it is headless otherwise),
   * and `endpoint` is the engine Service's ClusterIP.
   */
  clusterDns?: boolean;
  /** the engine's admin API key (a Pulumi secret) */
  apiKey: pulumi.Input<string>;
  /** PostgreSQL's password (a Pulumi secret) */
  postgresPassword: pulumi.Input<string>;
  /**
   * The key the engines encrypt secret variables with (a Pulumi secret; `openssl rand -base64 32`).
   * Every engine replica needs the same one, and it must outlive the pods: with a key generated in
   * each pod's data dir (an emptyDir), a secret written through one engine does not decrypt on
   * another, and a second engine stops at start (engine/store/secret-key-check.ts).
   */
  secretKey: pulumi.Input<string>;
  /** default `modelplane` */
  namespace?: string;
  /**
   * Engine replicas (default 2). They share one PostgreSQL and split the reconciler's work through
   * database locks, so a second replica is availability, not a second control plane.
   */
  engineReplicas?: number;
  /** default `postgres:16-alpine` */
  postgresImage?: string;
  /** size of PostgreSQL's volume (default `10Gi`) */
  postgresStorage?: string;
  /** StorageClass of that volume (default: the cluster's default class) */
  storageClassName?: string;
  /** `ClusterIP` (default) or `LoadBalancer` for the engine's Service */
  serviceType?: "ClusterIP" | "LoadBalancer";
}

/** The engine listens here, inside the pod and on its Service (the CLI's default port). */
export const ENGINE_PORT = 7070;
export const POSTGRES_PORT = 5432;
const ENGINE_PRESTOP_SECONDS = 5;
const POSTGRES_USER = "modelplane";
const POSTGRES_DATABASE = "modelplane";

/**
 * What the engine's Kubernetes runtime does in its namespace (the same list as the engine's
 * `RUNTIME_RBAC_RULES`, which the repository's tests run the runtime with): each replica set is a
 * Deployment, a headless Service (its EndpointSlices give the ready pod addresses) and a Secret for
 * its secret variables, written but never read back. Namespaced, nothing cluster-wide.
 */
export const runtimeRbacRules: k8s.types.input.rbac.v1.PolicyRule[] = [
  { apiGroups: ["apps"], resources: ["deployments"], verbs: ["list", "watch", "create", "patch", "delete"] },
  { apiGroups: [""], resources: ["services"], verbs: ["create", "patch", "delete", "deletecollection"] },
  { apiGroups: [""], resources: ["secrets"], verbs: ["create", "patch", "delete", "deletecollection"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
  { apiGroups: [""], resources: ["events"], verbs: ["list"] },
  { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
];

export interface ModelplaneCluster {
  namespace: k8s.core.v1.Namespace;
  serviceAccount: k8s.core.v1.ServiceAccount;
  role: k8s.rbac.v1.Role;
  roleBinding: k8s.rbac.v1.RoleBinding;
  apiKeySecret: k8s.core.v1.Secret;
  postgresSecret: k8s.core.v1.Secret;
  databaseUrlSecret: k8s.core.v1.Secret;
  postgresService: k8s.core.v1.Service;
  postgres: k8s.apps.v1.StatefulSet;
  engine: k8s.apps.v1.Deployment;
  engineService: k8s.core.v1.Service;
  /** `http://modelplane.<namespace>.svc.cluster.local:7070` (without cluster DNS `http://<ClusterIP>:7070`): the endpoint for the provider and the SDK */
  endpoint: pulumi.Output<string>;
}

export function declareModelplaneCluster(settings: ModelplaneClusterSettings): ModelplaneCluster {
  const namespaceName = settings.namespace ?? "modelplane";
  const clusterDns = settings.clusterDns ?? true;
  const labels = { "app.kubernetes.io/part-of": "modelplane" };
  const engineLabels = { ...labels, "app.kubernetes.io/name": "modelplane-engine" };
  const postgresLabels = { ...labels, "app.kubernetes.io/name": "postgres" };

  const namespace = new k8s.core.v1.Namespace("modelplane", { metadata: { name: namespaceName, labels } });
  const inNamespace = { parent: namespace };
  const metadata = (name: string, objectLabels: Record<string, string> = labels) => ({ name, namespace: namespace.metadata.name, labels: objectLabels });

  // ---- identity and RBAC of the engine (its Kubernetes runtime acts with this account) ----
  const serviceAccount = new k8s.core.v1.ServiceAccount("modelplane-engine", { metadata: metadata("modelplane-engine") }, inNamespace);
  const role = new k8s.rbac.v1.Role("modelplane-runtime", { metadata: metadata("modelplane-runtime"), rules: runtimeRbacRules }, inNamespace);
  const roleBinding = new k8s.rbac.v1.RoleBinding(
    "modelplane-runtime",
    {
      metadata: metadata("modelplane-runtime"),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
      subjects: [{ kind: "ServiceAccount", name: serviceAccount.metadata.name, namespace: namespace.metadata.name }],
    },
    inNamespace,
  );

  // ---- secrets: values come from Pulumi secrets and reach containers only through secretKeyRef ----
  const apiKeySecret = new k8s.core.v1.Secret(
    "modelplane-api-key",
    { metadata: metadata("modelplane-api-key"), type: "Opaque", stringData: { "api-key": pulumi.secret(settings.apiKey) } },
    inNamespace,
  );
  const secretKeySecret = new k8s.core.v1.Secret(
    "modelplane-secret-key",
    { metadata: metadata("modelplane-secret-key"), type: "Opaque", stringData: { "secret-key": pulumi.secret(settings.secretKey) } },
    inNamespace,
  );
  const postgresSecret = new k8s.core.v1.Secret(
    "postgres",
    { metadata: metadata("postgres", postgresLabels), type: "Opaque", stringData: { password: pulumi.secret(settings.postgresPassword) } },
    inNamespace,
  );
  // The URL is built here, percent-encoding the password, and kept in a Secret of its own: the engine
  // reads it from MODELPLANE_DATABASE_URL (what `serve --database-url` falls back to), so it appears
  // neither in the pod spec nor in the engine's argv (/proc/1/cmdline).
  // ---- PostgreSQL: one replica with its own volume ----
  // Headless: the StatefulSet's pod gets a stable DNS name, and `postgres` resolves to it. Without
  // cluster DNS the Service gets a ClusterIP, which is what the engine connects to.
  const postgresService = new k8s.core.v1.Service(
    "postgres",
    {
      metadata: metadata("postgres", postgresLabels),
      spec: {
        ...(clusterDns ? { clusterIP: "None" } : {}),
        selector: postgresLabels,
        ports: [{ name: "postgres", port: POSTGRES_PORT, targetPort: "postgres" }],
      },
    },
    inNamespace,
  );
  const postgresHost = clusterDns ? pulumi.interpolate`postgres.${namespace.metadata.name}.svc.cluster.local` : postgresService.spec.clusterIP;
  const databaseUrl = pulumi.interpolate`postgres://${POSTGRES_USER}:${pulumi.output(settings.postgresPassword).apply(encodeURIComponent)}@${postgresHost}:${POSTGRES_PORT}/${POSTGRES_DATABASE}`;
  const databaseUrlSecret = new k8s.core.v1.Secret(
    "modelplane-database",
    { metadata: metadata("modelplane-database"), type: "Opaque", stringData: { url: pulumi.secret(databaseUrl) } },
    inNamespace,
  );
  const postgres = new k8s.apps.v1.StatefulSet(
    "postgres",
    {
      metadata: metadata("postgres", postgresLabels),
      spec: {
        serviceName: postgresService.metadata.name,
        // One writer: PostgreSQL does not share a data directory; HA needs an operator, not replicas.
        replicas: 1,
        selector: { matchLabels: postgresLabels },
        template: {
          metadata: { labels: postgresLabels },
          spec: {
            securityContext: { fsGroup: 999 }, // the image's postgres user owns the volume
            containers: [
              {
                name: "postgres",
                image: settings.postgresImage ?? "postgres:16-alpine",
                ports: [{ name: "postgres", containerPort: POSTGRES_PORT }],
                env: [
                  { name: "POSTGRES_USER", value: POSTGRES_USER },
                  { name: "POSTGRES_DB", value: POSTGRES_DATABASE },
                  { name: "POSTGRES_PASSWORD", valueFrom: { secretKeyRef: { name: postgresSecret.metadata.name, key: "password" } } },
                  // a subdirectory: the volume's root may hold lost+found, which initdb refuses
                  { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
                ],
                volumeMounts: [{ name: "data", mountPath: "/var/lib/postgresql/data" }],
                readinessProbe: { exec: { command: ["pg_isready", "-U", POSTGRES_USER, "-d", POSTGRES_DATABASE] }, periodSeconds: 5 },
                livenessProbe: { exec: { command: ["pg_isready", "-U", POSTGRES_USER, "-d", POSTGRES_DATABASE] }, initialDelaySeconds: 30, periodSeconds: 10 },
                resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "1Gi" } },
              },
            ],
          },
        },
        // The PersistentVolumeClaim (`data-postgres-0`) comes from this template: it outlives the
        // pod and the StatefulSet, so a deleted stack does not delete the data with it.
        volumeClaimTemplates: [
          {
            metadata: { name: "data", labels: postgresLabels },
            spec: {
              accessModes: ["ReadWriteOnce"],
              resources: { requests: { storage: settings.postgresStorage ?? "10Gi" } },
              ...(settings.storageClassName !== undefined ? { storageClassName: settings.storageClassName } : {}),
            },
          },
        ],
      },
    },
    inNamespace,
  );

  // ---- the engine ----
  const engine = new k8s.apps.v1.Deployment(
    "modelplane-engine",
    {
      metadata: metadata("modelplane-engine", engineLabels),
      spec: {
        replicas: settings.engineReplicas ?? 2,
        selector: { matchLabels: engineLabels },
        template: {
          metadata: { labels: engineLabels },
          spec: {
            serviceAccountName: serviceAccount.metadata.name,
            securityContext: { runAsNonRoot: true, runAsUser: 1000 },
            containers: [
              {
                name: "engine",
                image: settings.image,
                command: settings.engineCommand ?? ["modelplane"],
                // The Kubernetes runtime: replica sets as Deployments in the engine's own namespace
                // (in-cluster configuration, the ServiceAccount above).
                args: [
                  "serve",
                  "--host",
                  "0.0.0.0",
                  "--port",
                  String(ENGINE_PORT),
                  "--data-dir",
                  "/var/lib/modelplane",
                  "--runtime",
                  "kubernetes",
                  ...(settings.modelImagePullPolicy !== undefined ? ["--image-pull-policy", settings.modelImagePullPolicy] : []),
                ],
                ports: [{ name: "http", containerPort: ENGINE_PORT }],
                env: [
                  { name: "MODELPLANE_API_KEY", valueFrom: { secretKeyRef: { name: apiKeySecret.metadata.name, key: "api-key" } } },
                  { name: "MODELPLANE_DATABASE_URL", valueFrom: { secretKeyRef: { name: databaseUrlSecret.metadata.name, key: "url" } } },
                  // one key for every engine replica, kept outside the pods' data dirs
                  { name: "MODELPLANE_SECRET_KEY", valueFrom: { secretKeyRef: { name: secretKeySecret.metadata.name, key: "secret-key" } } },
                ],
                // With PostgreSQL the data dir holds nothing durable; it must be writable.
                volumeMounts: [{ name: "data-dir", mountPath: "/var/lib/modelplane" }],
                // /healthz answers without the API key; readiness keeps a starting engine (migrations,
                // first reconcile) out of the Service, liveness restarts a wedged one.
                readinessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 5, failureThreshold: 3 },
                livenessProbe: { httpGet: { path: "/healthz", port: "http" }, initialDelaySeconds: 15, periodSeconds: 10, failureThreshold: 6 },
                resources: { requests: { cpu: "250m", memory: "256Mi" }, limits: { memory: "1Gi" } },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
                // A deleted engine pod keeps serving for 5 s before its SIGTERM (the kubelet's own sleep:
                // no `sleep` binary needed): the Service's other endpoints (kube-proxy) stop sending it new
                // connections meanwhile. Then `serve` closes cleanly and hands its promotions' leases over.
                lifecycle: { preStop: { sleep: { seconds: ENGINE_PRESTOP_SECONDS } } },
              },
            ],
            volumes: [{ name: "data-dir", emptyDir: {} }],
          },
        },
      },
    },
    // PostgreSQL first: an engine that cannot reach its store at start-up exits and crash-loops.
    { ...inNamespace, dependsOn: [postgres, postgresService] },
  );
  const engineService = new k8s.core.v1.Service(
    "modelplane",
    {
      metadata: metadata("modelplane", engineLabels),
      spec: { type: settings.serviceType ?? "ClusterIP", selector: engineLabels, ports: [{ name: "http", port: ENGINE_PORT, targetPort: "http" }] },
    },
    inNamespace,
  );

  return {
    namespace,
    serviceAccount,
    role,
    roleBinding,
    apiKeySecret,
    postgresSecret,
    databaseUrlSecret,
    postgresService,
    postgres,
    engine,
    engineService,
    endpoint: clusterDns
      ? pulumi.interpolate`http://${engineService.metadata.name}.${namespace.metadata.name}.svc.cluster.local:${ENGINE_PORT}`
      : pulumi.interpolate`http://${engineService.spec.clusterIP}:${ENGINE_PORT}`,
  };
}
