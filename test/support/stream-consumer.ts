// A bot reading a relay stream with fetch, as server-side SSE clients do (a bearer token and a
// Last-Event-ID header, which a browser's EventSource cannot set on its first request), parsed
// by eventsource-parser.
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import { waitUntil } from './events.ts'

export interface StreamReader {
  status: number
  headers: Headers
  /** Every message so far, in order. */
  messages: EventSourceMessage[]
  /** The answer's body when it was not a stream (a 401, a 400). */
  error: unknown
  /** The `id` fields, as numbers. */
  ids(): number[]
  /** The `id` of each message's body (the WhatsGate event's id). */
  eventIds(): number[]
  waitFor(count: number, timeoutMs?: number): Promise<void>
  /** Resolves when the relay ended the stream. */
  ended: Promise<void>
  close(): void
}

export async function readStream(
  url: string,
  { token, lastEventId }: { token?: string; lastEventId?: string | number } = {},
): Promise<StreamReader> {
  const controller = new AbortController()
  const headers: Record<string, string> = { accept: 'text/event-stream' }
  if (token !== undefined) headers.authorization = `Bearer ${token}`
  if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId)
  const response = await fetch(url, { headers, signal: controller.signal })
  const messages: EventSourceMessage[] = []
  const reader: StreamReader = {
    status: response.status,
    headers: response.headers,
    messages,
    error: null,
    ids: () => messages.map((message) => Number(message.id)),
    eventIds: () => messages.map((message) => (JSON.parse(message.data) as { id: number }).id),
    waitFor: (count, timeoutMs) =>
      waitUntil(() => messages.length >= count, `${count} messages (have ${messages.length})`, timeoutMs),
    ended: Promise.resolve(),
    close: () => controller.abort(),
  }
  if (response.status !== 200 || !response.body) {
    reader.error = await response.json()
    return reader
  }
  const parser = createParser({ onEvent: (message) => messages.push(message) })
  const body = response.body.pipeThrough(new TextDecoderStream())
  reader.ended = (async () => {
    try {
      for await (const chunk of body) parser.feed(chunk)
    } catch (error) {
      if (!controller.signal.aborted) throw error
    }
  })()
  return reader
}
