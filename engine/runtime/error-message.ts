/** Longest error_message the engine stores or returns (the API schema allows 8192): a replica's
 * 10,000-character crash line must not make every read of its deployment fail validation. */
export const MAX_ERROR_MESSAGE_CHARS = 4096;

/**
 * An error message cut to `max` characters: the start (what failed) and the end (the replica's
 * last words) are kept, the middle replaced by a marker saying how much went.
 */
export function capErrorMessage(message: string, max = MAX_ERROR_MESSAGE_CHARS): string {
  if (message.length <= max) return message;
  const head = Math.floor(max / 4);
  const marker = `\n… [${message.length - max} characters cut] …\n`;
  const tail = max - head - marker.length;
  return message.slice(0, head) + marker + message.slice(message.length - tail);
}
