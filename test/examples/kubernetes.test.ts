/**
 * examples/kubernetes with Pulumi's mocks: the program runs as under `pulumi up` (config from the
 * stack, secrets marked secret), but every resource registration goes to the mock below instead of
 * a cluster. What is checked is what the program declares; no Kubernetes API server is involved.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { RUNTIME_RBAC_RULES } from "../../engine/runtime/kubernetes/rbac-rules.js";

const PROJECT = "modelplane-kubernetes";
const API_KEY = "mp-api-key-3f9a1c";
const POSTGRES_PASSWORD = "pg pass/with:chars@1";
const SECRET_KEY = "qv6Hc0QkU3m2wzJ8m0m3a1pQ3f6Yx9y0r6v2t1u4s8E=";

interface Declared {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}
const declared: Declared[] = [];

// The shapes read below, as plain data (the mock hands over the inputs as JSON-like values).
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args: string[];
  env: EnvVar[];
  ports: Array<{ name: string; containerPort: number }>;
  readinessProbe?: { httpGet?: { path: string; port: string } };
  livenessProbe?: { httpGet?: { path: string; port: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: { serviceAccountName?: string; containers: Container[] };
}
interface WorkloadSpec {
  replicas: number;
  selector: { matchLabels: Record<string, string> };
  template: PodTemplate;
  serviceName?: string;
  volumeClaimTemplates?: Array<{ metadata: { name: string }; spec: { accessModes: string[]; resources: { requests: { storage: string } } } }>;
}

function one(type: string, name: string): Declared {
  const matches = declared.filter((resource) => resource.type === type && resource.name === name);
  expect(matches, `${type} ${name}`).toHaveLength(1);
  return matches[0]!;
}
const metadataOf = (resource: Declared) => resource.inputs.metadata as { name: string; namespace?: string };
const specOf = <T>(resource: Declared) => resource.inputs.spec as T;

let endpoint: string;

/** How a secret value reaches the mock: Pulumi's secret signature around it (plain values arrive bare). */
const SECRET_SIGNATURE = "1b47061264138c4ac30d75fd1eb44270";
function secretValue(input: unknown): unknown {
  const wrapped = input as Record<string, unknown> | undefined;
  expect(wrapped?.["4dabf18193072939515e22adb298388d"], "a Pulumi secret").toBe(SECRET_SIGNATURE);
  return wrapped?.value;
}

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        declared.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
        return { id: `${args.name}-id`, state: args.inputs as Record<string, unknown> };
      },
      call(args) {
        return args.inputs as Record<string, unknown>;
      },
    },
    PROJECT,
    "test",
    false,
  );
  pulumi.runtime.setAllConfig(
    {
      [`${PROJECT}:image`]: "ghcr.io/acme/modelplane:0.1.0",
      [`${PROJECT}:apiKey`]: API_KEY,
      [`${PROJECT}:postgresPassword`]: POSTGRES_PASSWORD,
      [`${PROJECT}:secretKey`]: SECRET_KEY,
      [`${PROJECT}:engineReplicas`]: "3",
    },
    [`${PROJECT}:apiKey`, `${PROJECT}:postgresPassword`, `${PROJECT}:secretKey`],
  );
  const program = (await import("../../examples/kubernetes/index.js")) as { endpoint: pulumi.Output<string> };
  endpoint = await new Promise<string>((resolve) => program.endpoint.apply(resolve));
  // Registrations are asynchronous; the endpoint depends on only two of them.
  const deadline = Date.now() + 10_000;
  while (declared.length < 12 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
});

describe("Kubernetes example (Pulumi mocks, no cluster)", () => {
  it("declares the namespace, RBAC, secrets, PostgreSQL and the engine, all in the namespace", () => {
    expect(declared.map((resource) => `${resource.type} ${resource.name}`).sort()).toEqual([
      "kubernetes:apps/v1:Deployment modelplane-engine",
      "kubernetes:apps/v1:StatefulSet postgres",
      "kubernetes:core/v1:Namespace modelplane",
      "kubernetes:core/v1:Secret modelplane-api-key",
      "kubernetes:core/v1:Secret modelplane-database",
      "kubernetes:core/v1:Secret modelplane-secret-key",
      "kubernetes:core/v1:Secret postgres",
      "kubernetes:core/v1:Service modelplane",
      "kubernetes:core/v1:Service postgres",
      "kubernetes:core/v1:ServiceAccount modelplane-engine",
      "kubernetes:rbac.authorization.k8s.io/v1:Role modelplane-runtime",
      "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding modelplane-runtime",
    ]);
    for (const resource of declared) {
      if (resource.type.endsWith(":Namespace")) expect(metadataOf(resource).name).toBe("modelplane");
      else expect(metadataOf(resource).namespace, `${resource.type} ${resource.name}`).toBe("modelplane");
    }
    expect(endpoint).toBe("http://modelplane.modelplane.svc.cluster.local:7070");
  });

  it("the engine's ServiceAccount is bound to a namespaced Role with what the Kubernetes runtime needs, no more", () => {
    const role = one("kubernetes:rbac.authorization.k8s.io/v1:Role", "modelplane-runtime");
    // exactly what the runtime's own tests run it with (test/engine/runtime/kubernetes-runtime.test.ts)
    expect(role.inputs.rules).toEqual(RUNTIME_RBAC_RULES);
    const binding = one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "modelplane-runtime");
    expect(binding.inputs.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "modelplane-runtime" });
    expect(binding.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: "modelplane-engine", namespace: "modelplane" }]);
    const engine = one("kubernetes:apps/v1:Deployment", "modelplane-engine");
    expect(specOf<WorkloadSpec>(engine).template.spec.serviceAccountName).toBe("modelplane-engine");
  });

  it("the API key, the secrets' key and the database password live in Secrets and reach containers only through secretKeyRef", () => {
    // Kubernetes Secrets whose contents are Pulumi secrets too (encrypted in the stack's state)
    expect(secretValue(one("kubernetes:core/v1:Secret", "modelplane-api-key").inputs.stringData)).toEqual({ "api-key": API_KEY });
    expect(secretValue(one("kubernetes:core/v1:Secret", "modelplane-secret-key").inputs.stringData)).toEqual({ "secret-key": SECRET_KEY });
    expect(secretValue(one("kubernetes:core/v1:Secret", "postgres").inputs.stringData)).toEqual({ password: POSTGRES_PASSWORD });
    // the URL is built from the password, percent-encoded
    expect(secretValue(one("kubernetes:core/v1:Secret", "modelplane-database").inputs.stringData)).toEqual({
      url: `postgres://modelplane:${encodeURIComponent(POSTGRES_PASSWORD)}@postgres.modelplane.svc.cluster.local:5432/modelplane`,
    });
    // no other object carries either value anywhere in its inputs
    for (const resource of declared.filter((r) => !r.type.endsWith(":Secret"))) {
      const text = JSON.stringify(resource.inputs);
      expect(text, `${resource.type} ${resource.name}`).not.toContain(API_KEY);
      expect(text, `${resource.type} ${resource.name}`).not.toContain(SECRET_KEY);
      expect(text, `${resource.type} ${resource.name}`).not.toContain(encodeURIComponent(POSTGRES_PASSWORD));
      expect(text, `${resource.type} ${resource.name}`).not.toContain(POSTGRES_PASSWORD);
    }
    const engineEnv = specOf<WorkloadSpec>(one("kubernetes:apps/v1:Deployment", "modelplane-engine")).template.spec.containers[0]!.env;
    expect(engineEnv).toEqual([
      { name: "MODELPLANE_API_KEY", valueFrom: { secretKeyRef: { name: "modelplane-api-key", key: "api-key" } } },
      { name: "MODELPLANE_DATABASE_URL", valueFrom: { secretKeyRef: { name: "modelplane-database", key: "url" } } },
      { name: "MODELPLANE_SECRET_KEY", valueFrom: { secretKeyRef: { name: "modelplane-secret-key", key: "secret-key" } } },
    ]);
    const postgresEnv = specOf<WorkloadSpec>(one("kubernetes:apps/v1:StatefulSet", "postgres")).template.spec.containers[0]!.env;
    expect(postgresEnv.find((variable) => variable.name === "POSTGRES_PASSWORD")).toEqual({
      name: "POSTGRES_PASSWORD",
      valueFrom: { secretKeyRef: { name: "postgres", key: "password" } },
    });
  });

  it("PostgreSQL: one replica, a volume claim, a headless Service on 5432", () => {
    const statefulSet = specOf<WorkloadSpec>(one("kubernetes:apps/v1:StatefulSet", "postgres"));
    expect(statefulSet.replicas).toBe(1);
    expect(statefulSet.serviceName).toBe("postgres");
    expect(statefulSet.volumeClaimTemplates).toEqual([
      expect.objectContaining({ metadata: expect.objectContaining({ name: "data" }), spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Gi" } } } }),
    ]);
    const service = specOf<{ clusterIP: string; selector: Record<string, string>; ports: Array<{ port: number }> }>(one("kubernetes:core/v1:Service", "postgres"));
    expect(service.clusterIP).toBe("None");
    expect(service.ports.map((port) => port.port)).toEqual([5432]);
    expect(service.selector).toEqual(statefulSet.selector.matchLabels);
  });

  it("the engine: image from config, `modelplane serve` on 0.0.0.0, probes on /healthz, resources, replicas; its Service on 7070", () => {
    const engine = specOf<WorkloadSpec>(one("kubernetes:apps/v1:Deployment", "modelplane-engine"));
    expect(engine.replicas).toBe(3); // engineReplicas from the stack config
    const container = engine.template.spec.containers[0]!;
    expect(container.image).toBe("ghcr.io/acme/modelplane:0.1.0");
    expect([...(container.command ?? []), ...container.args]).toEqual(["modelplane", "serve", "--host", "0.0.0.0", "--port", "7070", "--data-dir", "/var/lib/modelplane", "--runtime", "kubernetes"]);
    expect(container.ports).toEqual([{ name: "http", containerPort: 7070 }]);
    expect(container.readinessProbe?.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(container.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "http" });
    expect(container.resources?.requests).toEqual({ cpu: "250m", memory: "256Mi" });
    expect(container.resources?.limits).toEqual({ memory: "1Gi" });
    const service = specOf<{ type: string; selector: Record<string, string>; ports: Array<{ name: string; port: number; targetPort: string }> }>(one("kubernetes:core/v1:Service", "modelplane"));
    expect(service.type).toBe("ClusterIP");
    expect(service.ports).toEqual([{ name: "http", port: 7070, targetPort: "http" }]);
    expect(service.selector).toEqual(engine.selector.matchLabels);
    expect(engine.template.metadata.labels).toMatchObject(engine.selector.matchLabels);
  });
});
