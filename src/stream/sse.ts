// Server-sent events as the HTML standard frames them (text/event-stream): what a browser's
// EventSource, and every client library modelled on it, reads and resumes from.

/** The response headers of a stream: no caching, and no proxy buffering (nginx reads the last). */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no',
} as const

/** How long a client waits before it reconnects after the connection drops (the `retry` field). */
export const RECONNECT_MS = 1000

/** The first bytes of a stream: the client's reconnection time, sent before any event. */
export const SSE_PREAMBLE = `retry: ${RECONNECT_MS}\n\n`

/** A comment line: clients ignore it, proxies see traffic on an idle stream and keep it open. */
export const SSE_HEARTBEAT = ': keep-alive\n\n'

/**
 * One event: its id (the client's Last-Event-ID when it reconnects) and the body as data lines.
 * A data field cannot hold a line break, so each line of the body is a field of its own; a client
 * joins them with "\n", which gives back the JSON (a CR LF in a body arrives as LF).
 */
export function sseMessage(id: number, body: Buffer): string {
  return `id: ${id}\ndata: ${body
    .toString('utf8')
    .split(/\r\n|\r|\n/)
    .join('\ndata: ')}\n\n`
}
