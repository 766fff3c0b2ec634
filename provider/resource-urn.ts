import * as pulumi from "@pulumi/pulumi";

/** The input that carries a resource's own URN to its provider. */
export const RESOURCE_URN_INPUT = "resourceUrn";

/**
 * The URN the engine gives this resource, computed as the engine computes it (the parent's type
 * chain without the Stack, then type and name). A dynamic provider is not told the URN of the
 * resource it acts on; with it, the provider attributes its progress lines to the resource in
 * `pulumi up` instead of to the Stack.
 */
export function ownUrn(type: string, name: string, opts: pulumi.CustomResourceOptions | undefined): pulumi.Output<string> {
  return pulumi.createUrn(name, `pulumi-nodejs:dynamic/modelplane:${type}`, opts?.parent);
}
