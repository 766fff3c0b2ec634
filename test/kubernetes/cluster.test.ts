import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../testing/index.js";
import { kubectl, kubernetesSkipReason, requireTestCluster, type TestCluster } from "../support/kubernetes-cluster.js";

/**
 * The test cluster itself (scripts/kubernetes/cluster.sh): the node is Ready, and a Deployment of an example
 * model image (imported, never pulled) becomes Ready and answers predictions on its pod address and through a
 * ClusterIP service from the host. Skips without a cluster unless MODELPLANE_TEST_KUBERNETES=1 (CI).
 */
const skipReason = kubernetesSkipReason();
if (skipReason) console.warn(skipReason);

interface Condition {
  type: string;
  status: string;
}

/** the probe's value, or undefined while it throws (a pod not yet serving, rules not yet programmed) */
async function unlessFailing<T>(probe: () => Promise<T | undefined>): Promise<T | undefined> {
  try {
    return await probe();
  } catch {
    return undefined;
  }
}

async function predict(url: string, text: string, timeoutMs = 5_000): Promise<{ status: number; body: { label?: string; version?: string; environment?: string } }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, body: (await response.json()) as { label?: string; version?: string; environment?: string } };
}

const execFileAsync = promisify(execFile);

/**
 * What a failure to reach a ClusterIP needs to be understood: the service's NAT rules, its
 * EndpointSlices as the API holds them (whether the controller manager published the pods'
 * readiness), and the last words of kube-proxy and of the controller manager. (Once, in CI, the
 * rules had the service's chain but no endpoint's after 90 s, with nothing in kube-proxy's log.)
 */
async function serviceDiagnostics(cluster: TestCluster, clusterIp: string, namespace: string): Promise<string> {
  const attempt = async (what: string, read: () => Promise<string>): Promise<string> => {
    try {
      return `--- ${what}\n${(await read()).trim()}`;
    } catch (error) {
      return `--- ${what}: ${error instanceof Error ? error.message : String(error)}`;
    }
  };
  return (await Promise.all([
    attempt(`nat rules naming ${clusterIp}`, async () => (await execFileAsync("iptables-save", ["-t", "nat"])).stdout.split("\n").filter((l) => l.includes(clusterIp)).join("\n")),
    attempt(`EndpointSlices of ${namespace}`, () => kubectl(cluster, ["get", "endpointslices", "-n", namespace, "-o", "yaml"])),
    ...["kube-proxy", "kube-controller-manager"].map((component) =>
      attempt(`${component} log (last 30 lines)`, async () => (await readFile(join(cluster.clusterDir, `logs/${component}.log`), "utf8")).split("\n").slice(-30).join("\n")),
    ),
  ])).join("\n");
}

describe.skipIf(skipReason !== undefined)("the Kubernetes test cluster", () => {
  let cluster: TestCluster;
  const namespace = `cluster-test-${randomBytes(3).toString("hex")}`;

  beforeAll(async () => {
    cluster = requireTestCluster();
    await kubectl(cluster, ["create", "namespace", namespace]);
  });

  afterAll(async () => {
    if (cluster) await kubectl(cluster, ["delete", "namespace", namespace, "--wait=false"]);
  });

  it("has its node Ready", async () => {
    const node = JSON.parse(await kubectl(cluster, ["get", "node", cluster.nodeName, "-o", "json"])) as {
      status: { conditions: Condition[] };
    };
    expect(node.status.conditions.find((c) => c.type === "Ready")?.status).toBe("True");
  });

  it("runs an example model image: pods Ready, answering on their pod address and the service's ClusterIP", async () => {
    const image = cluster.images["sentiment-v1"];
    expect(image, "cluster.sh up imports the example model images").toBeDefined();
    const manifest = {
      apiVersion: "v1",
      kind: "List",
      items: [
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "sentiment", namespace },
          spec: {
            replicas: 2,
            selector: { matchLabels: { app: "sentiment" } },
            template: {
              metadata: { labels: { app: "sentiment" } },
              spec: {
                terminationGracePeriodSeconds: 5,
                enableServiceLinks: false,
                containers: [
                  {
                    name: "model",
                    image,
                    imagePullPolicy: "Never",
                    env: [{ name: "ENVIRONMENT", value: namespace }],
                    ports: [{ containerPort: 8080 }],
                    readinessProbe: { httpGet: { path: "/health", port: 8080 }, periodSeconds: 1 },
                  },
                ],
              },
            },
          },
        },
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "sentiment", namespace },
          spec: { selector: { app: "sentiment" }, ports: [{ port: 80, targetPort: 8080 }] },
        },
      ],
    };
    const started = Date.now();
    await kubectl(cluster, ["apply", "-f", "-"], { input: JSON.stringify(manifest) });
    const podIps = await waitFor(() => unlessFailing(async () => {
      const pods = JSON.parse(await kubectl(cluster, ["get", "pods", "-n", namespace, "-l", "app=sentiment", "-o", "json"])) as {
        items: { status: { podIP?: string; conditions?: Condition[] } }[];
      };
      const ready = pods.items.filter((p) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
      return ready.length === 2 ? ready.map((p) => p.status.podIP ?? "") : undefined;
    }), { timeoutMs: 90_000, intervalMs: 200, message: "2 sentiment pods Ready" });
    console.log(`2 sentiment-v1 pods Ready ${Date.now() - started} ms after apply: ${podIps.join(", ")}`);

    for (const ip of podIps) {
      expect(ip.startsWith(cluster.podCidr.split(".").slice(0, 3).join(".") + ".")).toBe(true);
      const answer = await predict(`http://${ip}:8080/predict`, "a great and wonderful day");
      expect(answer).toMatchObject({ status: 200, body: { label: "positive", version: "v1", environment: namespace } });
    }

    const clusterIp = (await kubectl(cluster, ["get", "service", "sentiment", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}"])).trim();
    expect(clusterIp.startsWith(cluster.serviceCidr.split(".").slice(0, 3).join(".") + ".")).toBe(true);
    // kube-proxy programs the service's rules a moment after the endpoints become ready (under CI's load, once,
    // more than 30 s). Until then a SYN to the ClusterIP goes nowhere, so each attempt is short.
    const viaService = await waitFor(() => unlessFailing(() => predict(`http://${clusterIp}/predict`, "awful, terrible", 2_000)), {
      timeoutMs: 90_000,
      intervalMs: 200,
      message: "the service answering",
    }).catch(async (error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${await serviceDiagnostics(cluster, clusterIp, namespace)}`);
    });
    expect(viaService).toMatchObject({ status: 200, body: { label: "negative", version: "v1" } });
  });
});
