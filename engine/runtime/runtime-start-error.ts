/** A runtime could not start (a cluster unreachable, credentials refused, a kubeconfig missing):
 * `modelplane serve` prints its message alone, which says what to fix, without a stack trace. */
export class RuntimeStartError extends Error {
  override readonly name = "RuntimeStartError";
}
