// The event key and its parts travel in headers (webhook-id, x-whatsgate-*). An event is taken on
// its identity, whatever characters it holds, but a header cannot carry them all: a line break or
// a character beyond Latin-1 is refused by the HTTP client (the delivery could never be sent), and
// surrounding spaces are trimmed by the receiver (its webhook-id would not match the signed one).

// Visible ASCII but '%', which escapes.
const NEEDS_ESCAPE = /[^\x21-\x24\x26-\x7e]/

/**
 * The value as a header carries it: unchanged when it is visible ASCII without '%' (every key
 * WhatsGate's documented events make), else each other character percent-encoded as UTF-8.
 */
export function headerValue(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value
  let escaped = ''
  for (const char of value) {
    escaped += NEEDS_ESCAPE.test(char)
      ? [...Buffer.from(char)].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('')
      : char
  }
  return escaped
}
