/** The provider's PromotionSettings checks `analysis` at preview with the API's own schema, camelCase in, snake_case out. */
import { describe, expect, it } from "vitest";
import { promotionSettingsImplementation } from "../../provider/impl/promotion-settings.js";

describe("PromotionSettings.analysis in the provider", () => {
  it("accepts camelCase analysis inputs", async () => {
    const checked = await promotionSettingsImplementation.check({}, {
      name: "gated",
      rollingDeploy: true,
      confirmPromotion: true,
      analysis: { intervalSeconds: 5, failureLimit: 1, metrics: [{ type: "success_rate", maxDrop: 0.02, minRequests: 50 }, { type: "latency", quantile: 0.99, maxSeconds: 1 }] },
      webhooks: [{ type: "pre-rollout", name: "eval", url: "http://evals.internal/run", timeoutSeconds: 60, metadata: { suiteName: "nightly" } }],
    });
    expect(checked.failures).toEqual([]);
    const bad = await promotionSettingsImplementation.check({}, { name: "bad-hook", webhooks: [{ type: "pre-rollout", name: "eval", url: "ftp://x", timeoutSeconds: 0 }] });
    expect((bad.failures ?? []).map((failure) => failure.reason)).toEqual([
      expect.stringMatching(/^webhooks\.0\.url: an http\(s\) URL|^webhooks\[0\]\.url: an http\(s\) URL/),
      expect.stringMatching(/timeoutSeconds: /),
    ]);
  });

  it("webhooks take every gate type of the API's schema (pre-rollout, rollout, post-rollout) and refuse others at preview", async () => {
    const checked = await promotionSettingsImplementation.check({}, {
      name: "hooks",
      rollingDeploy: true,
      webhooks: [
        { type: "pre-rollout", name: "eval", url: "http://evals.internal/run" },
        { type: "rollout", name: "smoke", url: "http://evals.internal/smoke", retries: 0 },
        { type: "post-rollout", name: "notify", url: "https://hooks.internal/notify", timeoutSeconds: 5 },
      ],
    });
    expect(checked.failures).toEqual([]);
    const bad = await promotionSettingsImplementation.check({}, { name: "bad-type", webhooks: [{ type: "pre-deploy", name: "eval", url: "http://evals.internal/run" }] });
    expect((bad.failures ?? []).map((failure) => failure.reason)).toEqual([expect.stringMatching(/^webhooks(\.0|\[0\])\.type: .*pre-rollout.*rollout.*post-rollout/)]);
  });

  it("stops preview naming the input property, the field and the rule's message", async () => {
    const checked = await promotionSettingsImplementation.check({}, {
      name: "bad",
      analysis: { intervalSeconds: 0, metrics: [{ type: "success_rate", min: 0.9, maxDrop: 0.1 }, { type: "prometheus", name: "errors", query: "up" }] },
    });
    expect(checked.failures).toEqual([
      { property: "analysis", reason: expect.stringMatching(/^analysis\.intervalSeconds: /) },
      { property: "analysis", reason: expect.stringMatching(/^analysis\.metrics\[0\]\.min: give exactly one threshold: min \(absolute\) or max_drop/) },
      { property: "analysis", reason: "analysis.metrics[1].min: give at least one bound: min and/or max" },
    ]);
  });
});
