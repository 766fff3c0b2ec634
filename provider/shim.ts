/**
 * The dynamic provider that Pulumi serializes into every resource's state.
 *
 * Pulumi stores a provider as the source text of its closure (`__provider`). Capturing the real
 * implementation would drag the SDK, zod and undici into that text (closure serialization fails on
 * many libraries: pulumi/pulumi#8090, #13960, #18977) and make every modelplane upgrade look like a
 * change. So each method is a thin shim that captures two strings — the URL of the compiled
 * implementation and the resource kind — and imports the implementation when called, inside the
 * dynamic-provider host.
 */
import type * as pulumi from "@pulumi/pulumi";
import { exposePulumiToProviderHost } from "./provider-host-path.js";

// Before any `stack.up()` of an inline program starts `pulumi`: see provider-host-path.ts.
exposePulumiToProviderHost();

export type ResourceKind = "model" | "deployment" | "promotion-settings" | "environment" | "workspace-environment";

const implementationUrl = new URL("./implementation.js", import.meta.url).href;

export function providerShim(kind: ResourceKind): pulumi.dynamic.ResourceProvider {
  const url = implementationUrl;
  const load = async () => {
    const implementation = (await import(url)) as typeof import("./implementation.js");
    return implementation.providerFor(kind);
  };
  return {
    async configure(request: pulumi.dynamic.ConfigureRequest) {
      const implementation = (await import(url)) as typeof import("./implementation.js");
      implementation.configure({
        endpoint: request.config.get("modelplane:endpoint"),
        apiKey: request.config.get("modelplane:apiKey"),
      });
    },
    async check(olds, news) {
      return (await load()).check(olds, news);
    },
    async diff(id, olds, news) {
      return (await load()).diff(id, olds, news);
    },
    async create(inputs) {
      return (await load()).create(inputs);
    },
    async read(id, props) {
      return (await load()).read(id, props);
    },
    async update(id, olds, news) {
      return (await load()).update(id, olds, news);
    },
    async delete(id, props) {
      return (await load()).delete(id, props);
    },
  };
}
