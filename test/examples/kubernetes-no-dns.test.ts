/**
 * examples/kubernetes for a cluster without DNS (`clusterDns: false`, the repository's test cluster),
 * under Pulumi's mocks: PostgreSQL's Service gets a ClusterIP and the engine's database URL and the
 * `endpoint` output use the ClusterIPs the API server assigns (the mock plays it). The engine command and
 * the model pull policy come from the settings. test/kubernetes/example-cluster.test.ts applies the same
 * to a real cluster.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";

const CLUSTER_IPS: Record<string, string> = { postgres: "198.19.0.41", modelplane: "198.19.0.42" };
const declared: Array<{ type: string; name: string; inputs: Record<string, unknown> }> = [];
let endpoint: string;

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        declared.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
        const inputs = args.inputs as { spec?: Record<string, unknown> };
        const clusterIP = CLUSTER_IPS[args.name];
        // the API server fills in a Service's ClusterIP unless it is headless
        const state = args.type === "kubernetes:core/v1:Service" && clusterIP !== undefined && inputs.spec?.clusterIP !== "None"
          ? { ...inputs, spec: { ...inputs.spec, clusterIP } }
          : inputs;
        return { id: `${args.name}-id`, state };
      },
      call: (args) => args.inputs as Record<string, unknown>,
    },
    "modelplane-kubernetes",
    "no-dns",
    false,
  );
  const { declareModelplaneCluster } = await import("../../examples/kubernetes/modelplane-cluster.js");
  const cluster = declareModelplaneCluster({
    image: "localhost/modelplane/engine:dev",
    engineCommand: ["node", "/app/dist/cli/main.js"],
    modelImagePullPolicy: "Never",
    apiKey: pulumi.secret("key"),
    postgresPassword: pulumi.secret("pw"),
    secretKey: pulumi.secret("qv6Hc0QkU3m2wzJ8m0m3a1pQ3f6Yx9y0r6v2t1u4s8E="),
    namespace: "mp-example",
    clusterDns: false,
  });
  endpoint = await new Promise<string>((resolve) => cluster.endpoint.apply(resolve));
  const deadline = Date.now() + 10_000;
  while (declared.length < 12 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
});

describe("Kubernetes example without cluster DNS (Pulumi mocks)", () => {
  it("PostgreSQL's Service has a ClusterIP; the database URL and the endpoint use ClusterIPs", async () => {
    const postgres = declared.find((resource) => resource.type === "kubernetes:core/v1:Service" && resource.name === "postgres");
    expect((postgres?.inputs.spec as { clusterIP?: string }).clusterIP).toBeUndefined();
    const database = declared.find((resource) => resource.type === "kubernetes:core/v1:Secret" && resource.name === "modelplane-database");
    const stringData = database?.inputs.stringData as { value?: { url?: string } };
    expect(stringData.value?.url).toBe("postgres://modelplane:pw@198.19.0.41:5432/modelplane");
    expect(endpoint).toBe("http://198.19.0.42:7070");
  });

  it("the engine runs the given command with --runtime kubernetes and the model pull policy", () => {
    const engine = declared.find((resource) => resource.type === "kubernetes:apps/v1:Deployment" && resource.name === "modelplane-engine");
    const container = (engine?.inputs.spec as { template: { spec: { containers: Array<{ command: string[]; args: string[]; lifecycle: unknown }> } } }).template.spec.containers[0]!;
    expect([...container.command, ...container.args]).toEqual([
      "node", "/app/dist/cli/main.js", "serve", "--host", "0.0.0.0", "--port", "7070", "--data-dir", "/var/lib/modelplane",
      "--runtime", "kubernetes", "--image-pull-policy", "Never",
    ]);
    expect(container.lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
  });
});
