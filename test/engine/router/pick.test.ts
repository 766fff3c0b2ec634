import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RoutingTable, parseDataPlaneUrl, pickDeployment, pickReplica, resolveTarget } from "../../../engine/router/index.js";

/** Deterministic [0, 1) sequence (mulberry32) so split tests are exact, not flaky. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("pickDeployment", () => {
  const split = (percentToCandidate: number) => ({ currentDeploymentId: "current", candidateDeploymentId: "candidate", percentToCandidate });

  it.each([0, 10, 30, 50, 90, 100])("sends about %i %% to the candidate", (percent) => {
    const rand = seededRandom(percent + 1);
    let toCandidate = 0;
    const requests = 20_000;
    for (let i = 0; i < requests; i++) if (pickDeployment(split(percent), rand) === "candidate") toCandidate++;
    expect(Math.abs((toCandidate / requests) * 100 - percent)).toBeLessThan(1.5);
  });

  it("uses the current deployment alone when there is no candidate, and null when there is neither", () => {
    expect(pickDeployment({ currentDeploymentId: "current", candidateDeploymentId: null, percentToCandidate: 50 }, Math.random)).toBe("current");
    expect(pickDeployment({ currentDeploymentId: null, candidateDeploymentId: null, percentToCandidate: 0 }, Math.random)).toBeNull();
    expect(pickDeployment({ currentDeploymentId: null, candidateDeploymentId: "candidate", percentToCandidate: 0 }, Math.random)).toBe("candidate");
  });

  it("never picks the candidate at 0 % nor the current deployment at 100 %", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (r) => {
        expect(pickDeployment(split(0), () => r)).toBe("current");
        expect(pickDeployment(split(100), () => r)).toBe("candidate");
      }),
    );
  });
});

describe("pickReplica", () => {
  const replicas = [{ id: "a" }, { id: "b" }, { id: "c" }];

  it("picks the replica with the fewest requests in flight", () => {
    const load: Record<string, number> = { a: 3, b: 1, c: 2 };
    for (let rotation = 0; rotation < 6; rotation++) expect(pickReplica(replicas, (id) => load[id]!, rotation)?.id).toBe("b");
  });

  it("breaks ties round-robin", () => {
    const picked = [0, 1, 2, 3, 4, 5].map((rotation) => pickReplica(replicas, () => 0, rotation)?.id);
    expect(picked).toEqual(["a", "b", "c", "a", "b", "c"]);
    const twoTied: Record<string, number> = { a: 1, b: 0, c: 0 };
    expect([0, 1, 2].map((rotation) => pickReplica(replicas, (id) => twoTied[id]!, rotation)?.id)).toEqual(["b", "b", "c"]);
  });

  it("returns undefined without replicas, and always a replica of minimal load otherwise", () => {
    expect(pickReplica([], () => 0, 0)).toBeUndefined();
    fc.assert(
      fc.property(fc.array(fc.nat(5), { minLength: 1, maxLength: 8 }), fc.nat(), (loads, rotation) => {
        const list = loads.map((_, index) => ({ id: String(index) }));
        const picked = pickReplica(list, (id) => loads[Number(id)]!, rotation);
        expect(loads[Number(picked!.id)]).toBe(Math.min(...loads));
      }),
    );
  });
});

describe("parseDataPlaneUrl", () => {
  it.each([
    ["/models/m1/environments/staging/predict", { kind: "environment", modelId: "m1", envName: "staging" }],
    ["/models/m1/production/predict", { kind: "environment", modelId: "m1", envName: "production" }],
    ["/models/m1/deployment/d7/predict?x=1", { kind: "deployment", modelId: "m1", deploymentId: "d7" }],
    ["/models/m1/development/predict", { kind: "development", modelId: "m1" }],
    ["/models/m%201/environments/my%20env/predict", { kind: "environment", modelId: "m 1", envName: "my env" }],
  ])("%s", (url, target) => {
    expect(parseDataPlaneUrl(url)?.target).toEqual(target);
  });

  it.each(["/v1/models/m1", "/models/m1/predict", "/models/m1/environments/predict", "/models//production/predict", "/models/m1/deployments/d/predict", "/health"])(
    "%s is not a data-plane path",
    (url) => {
      expect(parseDataPlaneUrl(url)).toBeUndefined();
    },
  );

  it("keeps the query string", () => {
    expect(parseDataPlaneUrl("/models/m/production/predict?stream=true")?.query).toBe("?stream=true");
  });
});

describe("resolveTarget", () => {
  const table = new RoutingTable();
  table.setDeployment("m", "d1", { active: true, predictPath: "/predict", isDevelopment: false });
  table.setDeployment("m", "d2", { active: false, predictPath: "/predict", isDevelopment: false });
  table.setDeployment("m", "dev", { active: true, predictPath: "/predict", isDevelopment: true });
  table.setEnvironment("m", "production", { currentDeploymentId: "d1", candidateDeploymentId: null, percentToCandidate: 0 });
  table.setEnvironment("m", "staging", { currentDeploymentId: null, candidateDeploymentId: null, percentToCandidate: 0 });
  table.setModel("empty");
  const resolve = (target: Parameters<typeof resolveTarget>[1]) => resolveTarget(table, target, Math.random);

  it("resolves environments, deployments and the development deployment", () => {
    // an environment's traffic reaches the deployment's set for that environment; the other endpoints its own set
    expect(resolve({ kind: "environment", modelId: "m", envName: "production" })).toMatchObject({ ok: true, deploymentId: "d1", replicaSetId: "d1.production" });
    expect(resolve({ kind: "deployment", modelId: "m", deploymentId: "d1" })).toMatchObject({ ok: true, deploymentId: "d1", replicaSetId: "d1" });
    expect(resolve({ kind: "development", modelId: "m" })).toMatchObject({ ok: true, deploymentId: "dev", replicaSetId: "dev" });
  });

  it.each([
    [{ kind: "environment", modelId: "nope", envName: "production" }, 'model "nope" not found'],
    [{ kind: "environment", modelId: "m", envName: "qa" }, 'environment "qa" of model "m" not found'],
    [{ kind: "environment", modelId: "m", envName: "staging" }, "has no deployment yet"],
    [{ kind: "deployment", modelId: "m", deploymentId: "d2" }, "is inactive"],
    [{ kind: "deployment", modelId: "m", deploymentId: "d9" }, 'deployment "d9" of model "m" not found'],
    [{ kind: "development", modelId: "empty" }, "has no development deployment"],
  ] as const)("%o → 404: %s", (target, message) => {
    const resolution = resolve(target);
    expect(resolution.ok).toBe(false);
    if (!resolution.ok) expect(resolution.message).toContain(message);
  });

  it("forgets a removed deployment, environment and model", () => {
    const scratch = new RoutingTable();
    scratch.setDeployment("x", "d", { active: true, predictPath: "/p", isDevelopment: false });
    scratch.setEnvironment("x", "production", { currentDeploymentId: "d", candidateDeploymentId: null, percentToCandidate: 0 });
    scratch.removeDeployment("x", "d");
    expect(resolveTarget(scratch, { kind: "deployment", modelId: "x", deploymentId: "d" }, Math.random).ok).toBe(false);
    scratch.removeEnvironment("x", "production");
    expect(scratch.environment("x", "production")).toBeUndefined();
    scratch.removeModel("x");
    expect(scratch.hasModel("x")).toBe(false);
  });
});
