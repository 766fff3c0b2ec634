import { describe, expect, it } from "vitest";
import { Autoscaler } from "../../../engine/autoscaler/index.js";
import { recommendReplicas, type LoadSample } from "../../../engine/autoscaler/recommend.js";
import { resolveAutoscalingSettings } from "../../../engine/autoscaler/settings.js";
import { seededRandom } from "../rollout/support.js";

function harness() {
  let now = 1_000_000;
  const inFlight = new Map<string, number>();
  const requests = new Map<string, number>();
  const applied: [string, number][] = [];
  const autoscaler = new Autoscaler({
    source: {
      inFlightForSet: (id) => inFlight.get(id) ?? 0,
      requestsForSet: (id) => requests.get(id) ?? 0,
    },
    clock: () => now,
  });
  autoscaler.onDecision((id, replicas) => applied.push([id, replicas]));
  /** advance the clock by `seconds`, sampling every 250 ms as the timer would */
  const run = (seconds: number) => {
    for (let tick = 0; tick < seconds * 4; tick++) {
      now += 250;
      autoscaler.sampleNow();
    }
  };
  return { autoscaler, inFlight, requests, applied, run };
}

describe("Autoscaler", () => {
  const settings = { min_replica: 0, max_replica: 4, concurrency_target: 2, target_utilization_percentage: 100, autoscaling_window: 10, scale_down_delay: 30 };

  it("scales up with load, down after the delay, and to zero after window + delay without requests", () => {
    const { autoscaler, inFlight, requests, applied, run } = harness();
    autoscaler.track("d", settings, 1);
    inFlight.set("d", 6);
    requests.set("d", 100);
    run(1);
    expect(applied).toEqual([["d", 3]]);
    expect(autoscaler.demand("d")).toBe(3);

    inFlight.set("d", 1);
    run(10); // window now only sees 1 in flight → demand 1, but the delay has not elapsed
    expect(applied).toEqual([["d", 3]]);
    run(30);
    expect(applied).toEqual([["d", 3], ["d", 1]]);

    inFlight.set("d", 0); // no more requests (the request counter stays at 100)
    run(10 + 29);
    expect(applied.at(-1)).toEqual(["d", 1]);
    run(2);
    expect(applied.at(-1)).toEqual(["d", 0]);
  });

  it("reports demand but applies nothing while a promotion owns the deployment", () => {
    const { autoscaler, inFlight, applied, run } = harness();
    autoscaler.track("d", settings, 1);
    autoscaler.exclude("d");
    inFlight.set("d", 20);
    run(1);
    expect(autoscaler.demand("d")).toBe(10);
    expect(applied).toEqual([]);
    autoscaler.include("d", 2);
    run(0.25);
    expect(applied).toEqual([["d", 4]]);
  });

  it("follows a tracked set's changed settings, and refuses bad ones, however often it is tracked again", () => {
    const { autoscaler, inFlight, applied, run } = harness();
    autoscaler.track("d", settings, 1);
    autoscaler.track("d", { ...settings }, 1); // the same settings again, as every resync does
    inFlight.set("d", 20);
    run(1);
    expect(applied).toEqual([["d", 4]]);
    autoscaler.track("d", { ...settings, max_replica: 8 }, 4);
    run(0.25);
    expect(applied).toEqual([["d", 4], ["d", 8]]);
    expect(() => autoscaler.track("d", { ...settings, max_replica: -1 }, 8)).toThrow(/max_replica/);
    autoscaler.track("d", { ...settings, max_replica: 8 }, 8);
    run(0.25);
    expect(applied).toEqual([["d", 4], ["d", 8]]);
  });

  it("wakes a deployment at zero at once", () => {
    const { autoscaler, applied } = harness();
    autoscaler.track("d", settings, 0);
    expect(autoscaler.wake("d")).toBe(true);
    expect(applied).toEqual([["d", 1]]);
    expect(autoscaler.wake("unknown")).toBe(false);
  });

  it("samples on its own timer", async () => {
    const applied: number[] = [];
    const autoscaler = new Autoscaler({ source: { inFlightForSet: () => 3 }, sampleIntervalMs: 10 });
    autoscaler.onDecision((_, replicas) => applied.push(replicas));
    const done = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (applied.length > 0) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    autoscaler.track("d", { max_replica: 5, concurrency_target: 1, target_utilization_percentage: 100 }, 1);
    await done;
    autoscaler.close();
    expect(applied[0]).toBe(3);
  });

  it("forgetLoad: a deployment whose traffic went elsewhere stays at zero, though it carried load a moment ago (issue 13, finding 10)", () => {
    const { autoscaler, inFlight, requests, applied, run } = harness();
    autoscaler.track("previous", settings, 2);
    autoscaler.exclude("previous"); // a promotion drives it
    inFlight.set("previous", 4);
    requests.set("previous", 500);
    run(5);
    // the promotion ends: the environment's traffic is the candidate's now; 2 requests still finishing
    inFlight.set("previous", 2);
    autoscaler.forgetLoad("previous");
    autoscaler.include("previous", 0);
    run(0.5);
    inFlight.set("previous", 0);
    run(60);
    expect(applied).toEqual([]);
    expect(autoscaler.demand("previous")).toBe(0);
    // a request that arrives afterwards (its own endpoint) still wakes it
    requests.set("previous", 501);
    inFlight.set("previous", 1);
    run(1);
    expect(applied).toEqual([["previous", 1]]);
  });

  it("keeps each window's load as samples enter and leave it: the demand recommendReplicas gives over the same samples, tick after tick", () => {
    const { autoscaler, inFlight, requests, run } = harness();
    const random = seededRandom(14);
    // Short and long windows, settings changed midway, a forgotten load and idle stretches, each against its own sample history.
    const windows: Record<string, number> = { short: 10, long: 60, changing: 30 };
    const history = new Map<string, LoadSample[]>(Object.keys(windows).map((id) => [id, []]));
    const countOf = new Map<string, number>();
    const baseline = new Map<string, number>();
    for (const [id, window] of Object.entries(windows)) autoscaler.track(id, { ...settings, max_replica: 50, autoscaling_window: window }, 1);
    let now = 1_000_000;
    for (let tick = 1; tick <= 1_200; tick++) {
      if (tick === 400) {
        windows["changing"] = 15;
        autoscaler.track("changing", { ...settings, max_replica: 50, autoscaling_window: 15 }, 1);
      }
      if (tick === 700) {
        // Forgotten: no samples, and the requests in flight now are not demand (the baseline, down as they finish).
        autoscaler.forgetLoad("long");
        history.set("long", []);
        baseline.set("long", inFlight.get("long") ?? 0);
      }
      for (const id of Object.keys(windows)) {
        // idle stretches longer than every window (kept as runs, not samples), for some sets only
        const idle = (tick >= 200 && tick < 500 && id !== "long") || (tick >= 800 && tick < 1_050);
        const load = idle ? 0 : Math.floor(random() * 12);
        const arrivals = !idle && random() < 0.3 ? Math.floor(random() * 4) : 0;
        inFlight.set(id, load);
        requests.set(id, (countOf.get(id) ?? 0) + arrivals);
        countOf.set(id, (countOf.get(id) ?? 0) + arrivals);
        const finishing = Math.min(baseline.get(id) ?? 0, load);
        baseline.set(id, finishing);
        history.get(id)!.push({ at: now + 250, inFlight: load - finishing, arrivals });
      }
      run(0.25);
      now += 250;
      for (const [id, window] of Object.entries(windows)) {
        const expected = recommendReplicas({
          settings: resolveAutoscalingSettings({ ...settings, max_replica: 50, autoscaling_window: window }),
          samples: history.get(id)!,
          currentReplicas: 1,
          lastHighDemandAt: now,
          now,
        });
        expect(autoscaler.demand(id), `${id} at tick ${tick}`).toBe(expected.demand);
      }
    }
  });
});

describe("Autoscaler: the timer's pass", () => {
  it("hands the event loop back while sampling many sets, and samples each once, at the pass's time, as sampleNow does", async () => {
    const settings = { min_replica: 1, max_replica: 3, concurrency_target: 1, target_utilization_percentage: 100, autoscaling_window: 10, scale_down_delay: 30 };
    const now = 1_000_000;
    const sampled: string[] = [];
    let ranBeside = -1;
    const source = {
      // ~20 µs a set: 1,000 sets are ~20 ms of work, several of the pass's slices
      inFlightForSet: (id: string) => {
        const until = performance.now() + 0.02;
        while (performance.now() < until);
        sampled.push(id);
        return id === "set-999" ? 3 : 0;
      },
    };
    const sliced = new Autoscaler({ source, clock: () => now });
    const decisions: Array<[string, number]> = [];
    sliced.onDecision((id, replicas) => decisions.push([id, replicas]));
    for (let i = 0; i < 1_000; i++) sliced.track(`set-${i}`, settings, 1);
    setImmediate(() => {
      ranBeside = sampled.length;
    });
    await sliced.samplePass();
    // something else ran in the middle of the pass, not only after it
    expect(ranBeside).toBeGreaterThan(0);
    expect(ranBeside).toBeLessThan(1_000);
    expect(sampled).toEqual(Array.from({ length: 1_000 }, (_, i) => `set-${i}`));
    expect(decisions).toEqual([["set-999", 3]]);
    expect(sliced.recommendation("set-999")).toMatchObject({ replicas: 3, demand: 3, lastHighDemandAt: now });
    sliced.close();
  });

  it("skips a set untracked while the pass is paused, samples one tracked meanwhile, and forgets nothing of the others", async () => {
    const settings = { min_replica: 1, max_replica: 3, concurrency_target: 1, target_utilization_percentage: 100, autoscaling_window: 10, scale_down_delay: 30 };
    const now = 1_000_000;
    const sampled: string[] = [];
    let setZeroInFlight = 0;
    const source = {
      inFlightForSet: (id: string) => {
        const until = performance.now() + 0.02;
        while (performance.now() < until);
        sampled.push(id);
        return id === "set-0" ? setZeroInFlight : 0;
      },
    };
    const autoscaler = new Autoscaler({ source, clock: () => now });
    for (let i = 0; i < 1_000; i++) autoscaler.track(`set-${i}`, settings, 1);
    autoscaler.untrack("set-1");
    setImmediate(() => {
      autoscaler.untrack("set-998");
      autoscaler.track("late", settings, 1);
    });
    await autoscaler.samplePass();
    expect(sampled).toEqual([...Array.from({ length: 1_000 }, (_, i) => `set-${i}`).filter((id) => id !== "set-1" && id !== "set-998"), "late"]);
    // the next pass: the same sets, each once
    sampled.length = 0;
    autoscaler.sampleNow();
    expect(new Set(sampled).size).toBe(999);
    expect(sampled).not.toContain("set-998");
    // a recommendation handed out is the caller's: the next pass does not change it
    const held = autoscaler.recommendation("set-0")!;
    const first = { ...held };
    setZeroInFlight = 30;
    autoscaler.sampleNow();
    expect(autoscaler.recommendation("set-0")).toMatchObject({ replicas: 3 });
    expect(held).toEqual(first);
    autoscaler.close();
  });
});

describe("Autoscaler: idle sets at rest", () => {
  /** A router-like source: in flight only rises with an arrival, and every arrival is told. */
  function trafficSource() {
    const inFlight = new Map<string, number>();
    const requests = new Map<string, number>();
    const listeners = new Set<(id: string) => void>();
    let looks = 0;
    const counts = {
      inFlightForSet: (id: string) => {
        looks++;
        return inFlight.get(id) ?? 0;
      },
      requestsForSet: (id: string) => requests.get(id) ?? 0,
    };
    return {
      inFlight,
      /** the source that tells of arrivals (its autoscaler lets idle sets rest) */
      telling: {
        ...counts,
        onArrival(listener: (id: string) => void) {
          listeners.add(listener);
          return () => listeners.delete(listener);
        },
      },
      /** the same counts, silent about arrivals (its autoscaler samples every set at every pass) */
      silent: { inFlightForSet: (id: string) => inFlight.get(id) ?? 0, requestsForSet: counts.requestsForSet },
      arrive(id: string, count: number, nowInFlight: number) {
        requests.set(id, (requests.get(id) ?? 0) + count);
        inFlight.set(id, nowInFlight);
        for (const listener of listeners) listener(id);
      },
      looks: () => looks,
    };
  }

  it("decides exactly what sampling every set at every pass decides, through idle stretches, settings and count changes, promotions and forgotten load", () => {
    const random = seededRandom(22);
    const source = trafficSource();
    let now = 1_000_000;
    const resting = new Autoscaler({ source: source.telling, clock: () => now });
    const sampling = new Autoscaler({ source: source.silent, clock: () => now });
    const decided = { resting: [] as Array<[string, number]>, sampling: [] as Array<[string, number]> };
    resting.onDecision((id, replicas) => decided.resting.push([id, replicas]));
    sampling.onDecision((id, replicas) => decided.sampling.push([id, replicas]));
    const both = (act: (autoscaler: Autoscaler) => unknown) => [resting, sampling].map(act);
    const ids = Array.from({ length: 12 }, (_, i) => `set-${i}`);
    const settingsOf = (i: number, variant: number) => ({
      min_replica: (i + variant) % 3,
      max_replica: 3 + ((i + variant) % 4),
      concurrency_target: 1 + (i % 3),
      target_utilization_percentage: 100,
      autoscaling_window: [10, 15, 30][(i + variant) % 3]!,
      scale_down_delay: [0, 15][i % 2]!,
    });
    ids.forEach((id, i) => both((a) => a.track(id, settingsOf(i, 0), 1)));
    const excluded = new Set<string>();
    let restingLooks = 0;
    let samplingLooks = 0;
    let decisionCount = 0;
    for (let tick = 1; tick <= 2_400; tick++) {
      ids.forEach((id, i) => {
        // long quiet stretches (longer than every window and delay), busy ones, and sets that are mostly quiet
        const quiet = (tick >= 300 && tick < 900) || (tick >= 1_500 && tick < 2_100) || (i % 4 === 0 && random() < 0.97);
        const arrivals = !quiet && random() < 0.4 ? 1 + Math.floor(random() * 5) : 0;
        const before = source.inFlight.get(id) ?? 0;
        if (arrivals > 0) source.arrive(id, arrivals, Math.floor(random() * 9));
        else source.inFlight.set(id, Math.min(before, Math.floor(random() * (before + 1))));
      });
      // now and then, what the engine does besides traffic
      const i = Math.floor(random() * ids.length);
      const id = ids[i]!;
      const change = random();
      if (change < 0.01) both((a) => a.track(id, settingsOf(i, tick), 1 + (tick % 3)));
      else if (change < 0.02) both((a) => a.setCurrentReplicas(id, tick % 4));
      else if (change < 0.025 && !excluded.has(id)) {
        excluded.add(id);
        both((a) => a.exclude(id));
      } else if (change < 0.03 && excluded.has(id)) {
        excluded.delete(id);
        both((a) => {
          a.forgetLoad(id);
          a.include(id, tick % 3);
        });
      } else if (change < 0.033) both((a) => a.wake(id));
      else if (change < 0.035) {
        both((a) => a.untrack(id));
        excluded.delete(id);
        both((a) => a.track(id, settingsOf(i, 0), 0));
      }
      now += 250;
      const looksBefore = source.looks();
      resting.sampleNow();
      restingLooks += source.looks() - looksBefore;
      sampling.sampleNow();
      samplingLooks += ids.length;
      // (within a pass, in another order: a woken set joins the pass at its end)
      const ofThisPass = (decisions: Array<[string, number]>) => decisions.splice(0).sort(([a], [b]) => a.localeCompare(b));
      const passDecisions = ofThisPass(decided.sampling);
      expect(ofThisPass(decided.resting), `decisions at tick ${tick}`).toEqual(passDecisions);
      decisionCount += passDecisions.length;
      for (const setId of ids) {
        expect(resting.demand(setId), `${setId} demand at tick ${tick}`).toBe(sampling.demand(setId));
        expect(resting.recommendation(setId), `${setId} at tick ${tick}`).toEqual(sampling.recommendation(setId));
      }
    }
    // the scenario decided things, and the quiet stretches were not sampled
    expect(decisionCount).toBeGreaterThan(50);
    expect(restingLooks).toBeLessThan(samplingLooks * 0.6);
    both((a) => a.close());
  });

  it("samples only the sets with traffic: 1,000 idle sets cost nothing, and a request wakes its set in the pass under way", async () => {
    const settings = { min_replica: 1, max_replica: 3, concurrency_target: 1, target_utilization_percentage: 100, autoscaling_window: 10, scale_down_delay: 30 };
    const source = trafficSource();
    const sampled: string[] = [];
    const slow = {
      ...source.telling,
      // ~20 µs a set, so that a pass over 1,000 is several slices
      inFlightForSet: (id: string) => {
        const until = performance.now() + 0.02;
        while (performance.now() < until);
        sampled.push(id);
        return source.telling.inFlightForSet(id);
      },
    };
    let now = 1_000_000;
    const autoscaler = new Autoscaler({ source: slow, clock: () => now });
    const decisions: Array<[string, number]> = [];
    autoscaler.onDecision((id, replicas) => decisions.push([id, replicas]));
    for (let i = 0; i < 1_000; i++) autoscaler.track(`set-${i}`, settings, 1);
    // the first pass samples every set once; each is idle at its minimum, so each rests
    await autoscaler.samplePass();
    expect(sampled).toHaveLength(1_000);
    sampled.length = 0;
    now += 250;
    await autoscaler.samplePass();
    expect(sampled).toEqual([]);
    // a set whose requests arrive while a pass is under way joins that pass, with its arrivals
    for (let i = 0; i < 1_000; i++) autoscaler.track(`busy-${i}`, settings, 1);
    setImmediate(() => source.arrive("set-7", 3, 30));
    now += 250;
    await autoscaler.samplePass();
    expect(sampled.filter((id) => id.startsWith("set-"))).toEqual(["set-7"]);
    expect(decisions).toEqual([["set-7", 3]]);
    // three samples in its window (one of them the pass it rested through): 30 in flight on average 10
    expect(autoscaler.recommendation("set-7")).toMatchObject({ replicas: 3, demand: 10, lastHighDemandAt: now });
    autoscaler.close();
  });

  it("a set above its minimum with no request rests until its scale-down delay ends, then scales down in that pass", async () => {
    // min 0, one warm replica each (a deployment's own set, warm from creation), 30-s delay
    const settings = { min_replica: 0, max_replica: 3, concurrency_target: 1, target_utilization_percentage: 100, autoscaling_window: 10, scale_down_delay: 30 };
    const source = trafficSource();
    let now = 1_000_000;
    const trackedAt = now;
    const autoscaler = new Autoscaler({ source: source.telling, clock: () => now });
    const decisions: Array<[string, number]> = [];
    autoscaler.onDecision((id, replicas) => decisions.push([id, replicas]));
    for (let i = 0; i < 1_000; i++) autoscaler.track(`set-${i}`, settings, 1);
    let looks = source.looks();
    const pass = async () => {
      now += 250;
      await autoscaler.samplePass();
      const sampled = source.looks() - looks;
      looks = source.looks();
      return sampled;
    };
    expect(await pass()).toBe(1_000);
    // every pass before the delay's end samples none, and each decision stays, its high demand unmoved
    while (now < trackedAt + 10_000) expect(await pass()).toBe(0);
    expect(autoscaler.recommendation("set-1")).toEqual({ replicas: 1, demand: 0, lastHighDemandAt: trackedAt });
    // a request for set-5 wakes it: the next pass samples it, and that sample stays in the 10-s
    // window for 40 passes, each moving its high demand; then it rests until its own delay's end
    source.arrive("set-5", 1, 0);
    const set5HighDemandAt = now + 250 + 9_750;
    let sampledMeanwhile = 0;
    while (now + 250 < trackedAt + 30_000) sampledMeanwhile += await pass();
    expect(sampledMeanwhile).toBe(41);
    expect(decisions).toEqual([]);
    // the pass at the delay's end samples the others once and scales them to zero
    expect(await pass()).toBe(999);
    expect(now).toBe(trackedAt + 30_000);
    expect(decisions).toHaveLength(999);
    expect(decisions.filter(([id, replicas]) => id === "set-5" || replicas !== 0)).toEqual([]);
    decisions.length = 0;
    // settled at zero they rest for good; set-5 goes down at the end of its own delay
    while (now + 250 < set5HighDemandAt + 30_000) expect(await pass()).toBe(0);
    expect(await pass()).toBe(1);
    expect(decisions).toEqual([["set-5", 0]]);
    expect(await pass()).toBe(0);
    autoscaler.close();
  });
});
