import { describe, expect, it } from "vitest";
import { combineInFlight, combineReports, reportKey, reportsToWrite, type LoadReport, type SetLoad } from "../../../engine/autoscaler/cluster-load.js";

const TTL_MS = 6_000;
const report = (engineId: string, replicaSetId: string, inFlight: number, requests: number, ageMs: number): LoadReport => ({ engineId, replicaSetId, inFlight, requests, ageMs });

describe("combineReports: the other engines' reports → what the leader's autoscaler adds to its own counts", () => {
  const cases: {
    name: string;
    reports: LoadReport[];
    seen: [string, string, number][];
    /** shared replicas: the engines' in flight added up */
    inFlight: [string, number][];
    /** replicas per engine: the busiest engine's in flight */
    busiest: [string, number][];
    arrivals: [string, number][];
    seenAfter: [string, string, number][];
    expired: number;
  }[] = [
    { name: "no other engine reports: nothing added", reports: [], seen: [], inFlight: [], busiest: [], arrivals: [], seenAfter: [], expired: 0 },
    {
      name: "the worked example: fresh reports add up, a first report sets the baseline, a 9 s old one expires",
      reports: [report("B", "s1", 4, 130, 1_000), report("C", "s1", 2, 7, 3_000), report("D", "s1", 5, 50, 9_000)],
      seen: [["B", "s1", 100]],
      inFlight: [["s1", 6]],
      busiest: [["s1", 4]],
      arrivals: [["s1", 30]],
      seenAfter: [["B", "s1", 130], ["C", "s1", 7]],
      expired: 1,
    },
    {
      name: "exactly the TTL old still counts; a millisecond more does not",
      reports: [report("B", "s1", 3, 10, TTL_MS), report("C", "s1", 8, 20, TTL_MS + 1)],
      seen: [["B", "s1", 4], ["C", "s1", 1]],
      inFlight: [["s1", 3]],
      busiest: [["s1", 3]],
      arrivals: [["s1", 6]],
      seenAfter: [["B", "s1", 10]],
      expired: 1,
    },
    {
      name: "sets stay apart; a set back to idle adds nothing",
      reports: [report("B", "s1", 2.5, 40, 500), report("B", "s2", 0, 12, 500), report("C", "s2", 1.25, 3, 1_500)],
      seen: [["B", "s1", 40], ["B", "s2", 9], ["C", "s2", 3]],
      inFlight: [["s1", 2.5], ["s2", 1.25]],
      busiest: [["s1", 2.5], ["s2", 1.25]],
      arrivals: [["s2", 3]],
      seenAfter: [["B", "s1", 40], ["B", "s2", 12], ["C", "s2", 3]],
      expired: 0,
    },
    {
      name: "an even load over three engines: three times one engine's when shared, one engine's per engine",
      reports: [report("B", "s1", 3, 60, 200), report("C", "s1", 3, 61, 1_200)],
      seen: [["B", "s1", 50], ["C", "s1", 50]],
      inFlight: [["s1", 6]],
      busiest: [["s1", 3]],
      arrivals: [["s1", 21]],
      seenAfter: [["B", "s1", 60], ["C", "s1", 61]],
      expired: 0,
    },
    {
      name: "a count lower than seen (a row rewritten from older figures) adds no negative arrivals",
      reports: [report("B", "s1", 1, 5, 100)],
      seen: [["B", "s1", 8]],
      inFlight: [["s1", 1]],
      busiest: [["s1", 1]],
      arrivals: [],
      seenAfter: [["B", "s1", 5]],
      expired: 0,
    },
    {
      name: "an engine that stopped: every one of its rows expires, nothing of it counts",
      reports: [report("B", "s1", 6, 900, 7_000), report("B", "s2", 2, 30, 12_000)],
      seen: [["B", "s1", 880], ["B", "s2", 30]],
      inFlight: [],
      busiest: [],
      arrivals: [],
      seenAfter: [],
      expired: 2,
    },
  ];
  for (const example of cases) {
    it(example.name, () => {
      const seen = new Map(example.seen.map(([engine, set, requests]) => [reportKey(engine, set), requests]));
      const remote = combineReports(example.reports, seen, TTL_MS, "shared");
      expect([...remote.inFlight]).toEqual(example.inFlight);
      expect([...combineReports(example.reports, seen, TTL_MS, "per-engine").inFlight]).toEqual(example.busiest);
      expect([...remote.arrivals]).toEqual(example.arrivals);
      expect([...remote.seen]).toEqual(example.seenAfter.map(([engine, set, requests]) => [reportKey(engine, set), requests]));
      expect(remote.expired).toBe(example.expired);
    });
  }
});

describe("reportsToWrite: the rows a follower writes this period", () => {
  const load = (inFlight: number, requests: number): SetLoad => ({ inFlight, requests });
  const cases: { name: string; written: [string, SetLoad][]; measured: [string, SetLoad][]; rows: [string, SetLoad][] }[] = [
    { name: "nothing measured, nothing written: no statement", written: [], measured: [], rows: [] },
    {
      name: "the worked example",
      written: [["a", load(2, 10)], ["b", load(0, 5)], ["d", load(1, 4)]],
      measured: [["a", load(2, 10)], ["b", load(0, 5)], ["c", load(0, 3)]],
      rows: [["a", load(2, 10)], ["c", load(0, 3)], ["d", load(0, 4)]],
    },
    { name: "in flight and unchanged: rewritten so the row stays fresh", written: [["a", load(3, 7)]], measured: [["a", load(3, 7)]], rows: [["a", load(3, 7)]] },
    { name: "short requests between samples: arrivals alone are written", written: [["a", load(0, 7)]], measured: [["a", load(0, 9)]], rows: [["a", load(0, 9)]] },
    { name: "idle and already reported idle: nothing", written: [["a", load(0, 7)], ["b", load(0, 1)]], measured: [], rows: [] },
    { name: "back to zero in flight: written once as zero", written: [["a", load(4, 7)]], measured: [["a", load(0, 7)]], rows: [["a", load(0, 7)]] },
  ];
  for (const example of cases) {
    it(example.name, () => {
      expect([...reportsToWrite(new Map(example.written), new Map(example.measured))]).toEqual(example.rows);
    });
  }
});

describe("combineInFlight: the leader's own count with the other engines'", () => {
  const cases: [number, number, number, number][] = [
    // leader, others, shared, per engine
    [0, 0, 0, 0],
    [2, 5, 7, 5],
    [6, 0, 6, 6],
    [0, 5.5, 5.5, 5.5],
  ];
  for (const [leader, others, shared, perEngine] of cases) {
    it(`${leader} here and ${others} elsewhere: ${shared} shared, ${perEngine} per engine`, () => {
      expect(combineInFlight(leader, others, "shared")).toBe(shared);
      expect(combineInFlight(leader, others, "per-engine")).toBe(perEngine);
    });
  }
});
