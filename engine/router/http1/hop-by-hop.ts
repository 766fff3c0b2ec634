/** Fields that describe one connection, not the message (RFC 9110 §7.6.1), plus `host` (the
 * router sends the replica's) and `expect` (node:http already answered 100-continue): none of
 * them is relayed. */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "expect",
]);
