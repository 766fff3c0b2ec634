import { describe, expect, it } from "vitest";
import { deploymentManifest } from "../../../../engine/runtime/kubernetes/deployment-manifest.js";
import { existingReplicaSet } from "../../../../engine/runtime/kubernetes/existing-replica-set.js";
import { ANNOTATION, LABEL, labelValue } from "../../../../engine/runtime/kubernetes/labels.js";
import { manifestHash } from "../../../../engine/runtime/kubernetes/manifest-hash.js";
import { MAX_OBJECT_NAME_LENGTH, objectNameOf } from "../../../../engine/runtime/kubernetes/object-name.js";
import { hasSecrets, secretManifest } from "../../../../engine/runtime/kubernetes/secret-manifest.js";
import { serviceManifest } from "../../../../engine/runtime/kubernetes/service-manifest.js";
import { containerSpec, SETTINGS } from "./fixtures.js";

const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

describe("object names", () => {
  it("are DNS-1035 labels of at most 45 characters, readable, derived from the set id alone", () => {
    const name = objectNameOf("dep_abc123def456.production");
    expect(name).toMatch(/^dep-abc123def456-production-[0-9a-f]{8}$/);
    expect(objectNameOf("dep_abc123def456.production")).toBe(name);
    for (const id of ["dep_abc123def456", "0-starts-with-digit", "___", "dep_x." + "e".repeat(63), "Dep_UPPER.Staging"]) {
      const derived = objectNameOf(id);
      expect(derived, id).toMatch(DNS_1035_LABEL);
      expect(derived.length, id).toBeLessThanOrEqual(MAX_OBJECT_NAME_LENGTH);
    }
  });

  it("differ for ids that spell the same once made DNS-safe", () => {
    expect(objectNameOf("dep_a.b")).not.toBe(objectNameOf("dep-a-b"));
    expect(objectNameOf("dep_a.b").replace(/-[0-9a-f]{8}$/, "")).toBe(objectNameOf("dep-a-b").replace(/-[0-9a-f]{8}$/, ""));
  });

  it("label values are made valid: 63 characters, alphanumeric ends", () => {
    expect(labelValue("mdl_abc")).toBe("mdl_abc");
    expect(labelValue("-a b/c-")).toBe("a_b_c");
    expect(labelValue("x".repeat(80))).toHaveLength(63);
  });
});

describe("Deployment manifest", () => {
  const spec = containerSpec();
  const manifest = deploymentManifest(spec, 3, SETTINGS);
  const podSpec = manifest.spec!.template.spec!;
  const container = podSpec.containers[0]!;

  it("names, labels and annotations say whose it is", () => {
    expect(manifest.metadata!.name).toBe(objectNameOf(spec.id));
    expect(manifest.metadata!.namespace).toBe("models");
    expect(manifest.metadata!.labels).toMatchObject({
      [LABEL.managedBy]: "modelplane",
      [LABEL.owner]: "mp-0123456789",
      [LABEL.model]: "mdl_m1",
      [LABEL.deployment]: "dep_abc123def456",
      [LABEL.environment]: "production",
    });
    expect(manifest.metadata!.annotations).toMatchObject({
      [ANNOTATION.replicaSetId]: spec.id,
      [ANNOTATION.modelName]: "sentiment",
      [ANNOTATION.deploymentName]: "v2",
      [ANNOTATION.revision]: "1.abc",
    });
    // the selector is the set and the installation only: stable for the Deployment's life
    expect(manifest.spec!.selector.matchLabels).toEqual({ [LABEL.owner]: "mp-0123456789", [LABEL.replicaSet]: objectNameOf(spec.id) });
    expect(manifest.spec!.template.metadata!.labels).toMatchObject(manifest.spec!.selector.matchLabels!);
    expect(manifest.spec!.template.metadata!.annotations).toEqual({ [ANNOTATION.revision]: "1.abc" });
  });

  it("sets replicas, a rolling update that never removes capacity first, the image and port", () => {
    expect(manifest.spec!.replicas).toBe(3);
    expect(manifest.spec!.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: 0 } });
    // an environment's set rolls a configuration change with its promotion settings' surge
    expect(deploymentManifest(containerSpec({ maxSurgePercent: 50 }), 3, SETTINGS).spec!.strategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxSurge: "50%", maxUnavailable: 0 } });
    expect(manifest.spec!.minReadySeconds).toBe(1);
    expect(container.image).toBe("localhost/sentiment-v2:1");
    expect(container.imagePullPolicy).toBe("Never");
    expect(container.ports).toEqual([{ name: "http", containerPort: 8080, protocol: "TCP" }]);
    expect(container.command).toBeUndefined();
    expect(deploymentManifest(containerSpec({ workload: { kind: "container", image: "i", port: 9000, command: ["python", "serve.py"] } }), 1, SETTINGS).spec!.template.spec!.containers[0]!.command).toEqual(["python", "serve.py"]);
  });

  it("env: PORT, plain variables by value, secrets only by reference into the set's Secret", () => {
    expect(container.env).toEqual([
      { name: "PORT", value: "8080" },
      { name: "ENVIRONMENT", value: "production" },
      { name: "LOG_LEVEL", value: "info" },
      { name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: objectNameOf(spec.id), key: "HF_TOKEN" } } },
    ]);
    expect(JSON.stringify(manifest)).not.toContain("hf_secret_value_123");
  });

  it("probes on the readiness path: startup bounded by the startup timeout, readiness, liveness", () => {
    const httpGet = { path: "/health", port: "http" };
    expect(container.startupProbe).toEqual({ httpGet, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 60 });
    expect(container.readinessProbe).toEqual({ httpGet, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 1 });
    expect(container.livenessProbe).toEqual({ httpGet, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 3 });
  });

  it("resources as requests and limits, extended resources passed through", () => {
    const amounts = { cpu: "500m", memory: "256Mi", "nvidia.com/gpu": "1" };
    expect(container.resources).toEqual({ requests: amounts, limits: amounts });
    expect(deploymentManifest(containerSpec({ workload: { kind: "container", image: "i", port: 1 } }), 1, SETTINGS).spec!.template.spec!.containers[0]!.resources).toBeUndefined();
  });

  it("graceful termination: preStop sleep by the kubelet, then the drain bound; no credential in the pod", () => {
    expect(container.lifecycle).toEqual({ preStop: { sleep: { seconds: 2 } } });
    expect(podSpec.terminationGracePeriodSeconds).toBe(32);
    expect(container.terminationMessagePolicy).toBe("FallbackToLogsOnError");
    expect(podSpec.automountServiceAccountToken).toBe(false);
    expect(podSpec.enableServiceLinks).toBe(false);
    expect(deploymentManifest(spec, 1, { ...SETTINGS, preStopDelaySeconds: 0 }).spec!.template.spec!.containers[0]!.lifecycle).toBeUndefined();
  });

  it("is the same for the same spec, whatever order its variables came in", () => {
    expect(deploymentManifest(containerSpec({ env: { LOG_LEVEL: "info", ENVIRONMENT: "production" } }), 3, SETTINGS)).toEqual(manifest);
    expect(manifestHash({ a: 1, b: [1, { c: 2, d: undefined }] })).toBe(manifestHash({ b: [1, { c: 2 }], a: 1 }));
    expect(manifestHash({ a: 1 })).not.toBe(manifestHash({ a: 2 }));
  });

  it("refuses a process workload", () => {
    expect(() => deploymentManifest(containerSpec({ workload: { kind: "process", command: ["node"] } }), 1, SETTINGS)).toThrow(/runs a process/);
  });
});

describe("Secret and Service manifests", () => {
  it("the Secret holds the secret variables base64-encoded, same name, same labels", () => {
    const secret = secretManifest(containerSpec(), SETTINGS);
    expect(secret.metadata!.name).toBe(objectNameOf(containerSpec().id));
    expect(secret.data).toEqual({ HF_TOKEN: Buffer.from("hf_secret_value_123").toString("base64") });
    expect(secret.metadata!.labels![LABEL.owner]).toBe("mp-0123456789");
    expect(hasSecrets(containerSpec())).toBe(true);
    expect(hasSecrets(containerSpec({ secrets: {} }))).toBe(false);
  });

  it("the Service is headless over the set's pods, publishing only ready addresses", () => {
    const service = serviceManifest(containerSpec(), SETTINGS);
    expect(service.spec).toEqual({
      clusterIP: "None",
      selector: { [LABEL.owner]: "mp-0123456789", [LABEL.replicaSet]: objectNameOf(containerSpec().id) },
      ports: [{ name: "http", port: 8080, targetPort: "http", protocol: "TCP" }],
      publishNotReadyAddresses: false,
    });
  });
});

describe("existing replica sets (adoption)", () => {
  it("reads back exactly what the manifest wrote, environment null for a deployment's own set", () => {
    const spec = containerSpec();
    expect(existingReplicaSet(deploymentManifest(spec, 4, SETTINGS))).toEqual({ id: spec.id, owner: spec.owner, desired: 4, revision: spec.revision });
    const own = containerSpec({ id: "dep_abc123def456", owner: { ...spec.owner, environment: null } });
    expect(existingReplicaSet(deploymentManifest(own, 0, SETTINGS))).toEqual({ id: own.id, owner: own.owner, desired: 0, revision: own.revision });
  });

  it("ignores a Deployment without our annotations", () => {
    expect(existingReplicaSet({ metadata: { name: "web", labels: { [LABEL.owner]: "mp-0123456789" } } })).toBeUndefined();
  });
});
