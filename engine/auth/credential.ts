/**
 * The credential of a request: `Authorization: Api-Key KEY` (Baseten's form) or
 * `Authorization: Bearer KEY` (OAuth-style clients), scheme case-insensitive. Undefined when
 * the header is absent or not one of these.
 */
export function credentialOf(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = CREDENTIAL.exec(authorization);
  return match === null ? undefined : match[1];
}

const CREDENTIAL = /^(?:Api-Key|Bearer)[ \t]+([!-~]+)[ \t]*$/i;
