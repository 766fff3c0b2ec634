import type { V1EndpointSlice } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { podReplicas, timestampMs } from "../../../../engine/runtime/kubernetes/pod-replicas.js";
import { NOT_READY, READY, pod } from "./fixtures.js";

function slice(endpoints: Array<{ name: string; ip: string; ready: boolean; terminating?: boolean }>): V1EndpointSlice {
  return {
    addressType: "IPv4",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    endpoints: endpoints.map((endpoint) => ({
      addresses: [endpoint.ip],
      conditions: { ready: endpoint.ready, serving: endpoint.ready, terminating: endpoint.terminating ?? false },
      targetRef: { kind: "Pod", name: endpoint.name, uid: `uid-${endpoint.name}` },
    })),
  };
}

describe("pods and EndpointSlices → replicas", () => {
  const pods = [
    pod("b", "r2", { conditions: READY, podIP: "198.18.0.8", startTime: "2026-12-02T07:00:02Z" as unknown as Date }),
    pod("a", "r1", { conditions: READY, podIP: "198.18.0.7", startTime: "2026-12-02T07:00:01Z" as unknown as Date }),
    pod("c", "r2", { conditions: NOT_READY, podIP: "198.18.0.9", startTime: "2026-12-02T07:00:03Z" as unknown as Date }),
    pod("d", "r2", { phase: "Pending" }),
  ];

  it("ready only when the endpoint is ready; pod IP and port; oldest first; revision from the pod", () => {
    const replicas = podReplicas("dep_x.production", pods, [slice([{ name: "a", ip: "198.18.0.7", ready: true }, { name: "b", ip: "198.18.0.8", ready: true }, { name: "c", ip: "198.18.0.9", ready: false }])]);
    expect(replicas.map((r) => [r.id, r.state, r.url, r.revision])).toEqual([
      ["d", "starting", "", "r2"],
      ["a", "ready", "http://198.18.0.7:8080", "r1"],
      ["b", "ready", "http://198.18.0.8:8080", "r2"],
      ["c", "starting", "http://198.18.0.9:8080", "r2"],
    ]);
    expect(replicas[1]!.startedAt).toBe(Date.parse("2026-12-02T07:00:01Z"));
    expect(replicas.every((r) => r.replicaSetId === "dep_x.production")).toBe(true);
  });

  it("a pod the kubelet calls ready is not ready before its endpoint is", () => {
    expect(podReplicas("s", pods.slice(0, 1), []).map((r) => r.state)).toEqual(["starting"]);
  });

  it("a terminating pod drains at once, even while its endpoint still says ready", () => {
    const deleting = pod("a", "r1", { conditions: READY, podIP: "198.18.0.7" }, { deleting: true });
    expect(podReplicas("s", [deleting], [slice([{ name: "a", ip: "198.18.0.7", ready: true }])])[0]!.state).toBe("draining");
    expect(podReplicas("s", [pods[1]!], [slice([{ name: "a", ip: "198.18.0.7", ready: false, terminating: true }])])[0]!.state).toBe("starting");
  });

  it("finished pods are gone; IPv6 addresses are bracketed", () => {
    expect(podReplicas("s", [pod("e", "r", { phase: "Failed" })], [])).toEqual([]);
    const v6 = pod("f", "r", { conditions: READY, podIP: "fd00::5" });
    expect(podReplicas("s", [v6], [slice([{ name: "f", ip: "fd00::5", ready: true }])])[0]!.url).toBe("http://[fd00::5]:8080");
  });

  it("timestamps from list calls (Date) and watch events (string) read the same", () => {
    expect(timestampMs(new Date("2026-12-02T07:00:00Z"))).toBe(timestampMs("2026-12-02T07:00:00Z"));
    expect(timestampMs(undefined)).toBe(0);
  });
});

describe("an EndpointSlice without endpoints", () => {
  it("(no pod matched yet) gives no address", () => {
    const empty: V1EndpointSlice = { addressType: "IPv4", endpoints: undefined as unknown as V1EndpointSlice["endpoints"] };
    expect(podReplicas("s", [pod("a", "r", { conditions: READY })], [empty]).map((r) => [r.state, r.url])).toEqual([["starting", ""]]);
  });
});
