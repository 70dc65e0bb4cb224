// The load generators: autocannon in a closed loop, and an undici pool in a closed or an open loop.
// Every request is a new WhatsGate message event, so the relay's deduplication never hides work.
import autocannon from 'autocannon'
import { Pool } from 'undici'
import { idFromAck, messageEventBody } from './event.ts'
import { latencyHistogram } from './measure.ts'
import { nowMs, sleep } from './process.ts'

/** One counter for the whole run, so no two requests of any round carry the same event id. */
export interface IdSource {
  next: number
}

type OnAck = (id: number, atMs: number) => void

export interface LoadOptions {
  url: string
  seconds: number
  connections: number
  ids: IdSource
  /** Called on every 200 with the id the server answered; also counts answers with a wrong id. */
  onAck?: OnAck
}

function counters() {
  return {
    /** Requests written; those in flight when a timed run stops are sent but never answered. */
    sent: 0,
    ok: 0,
    non2xx: 0,
    /** Connection errors, timeouts included. */
    errors: 0,
    /** Answers whose `id` was not the id of the event that request had sent. */
    wrongAckIds: 0,
    latency: latencyHistogram(),
  }
}

export type LoadResult = ReturnType<typeof counters> & { seconds: number; rps: number }

function acked(c: ReturnType<typeof counters>, sentId: number, body: string, at: number, onAck?: OnAck) {
  c.ok++
  if (!onAck) return
  const id = idFromAck(body)
  if (id !== sentId) c.wrongAckIds++
  onAck(id, at)
}

/** autocannon, `connections` connections in a closed loop for `seconds`. */
export function autocannonLoad(options: LoadOptions): Promise<LoadResult> {
  const c = counters()
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.seconds,
        timeout: 10,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        requests: [
          {
            // autocannon clones the requests per connection, and calls this right before each write.
            setupRequest: (request, context) => {
              const id = options.ids.next++
              context.id = id
              c.sent++
              request.body = messageEventBody(id)
              return request
            },
            onResponse: (status, body, context) => {
              if (status === 200) acked(c, context.id as number, body, nowMs(), options.onAck)
            },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error)
        const { duration, non2xx, errors } = result
        resolve({ ...c, non2xx, errors, seconds: duration, rps: c.ok / duration })
      },
    )
    instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
      if (status >= 200 && status < 300) c.latency.record(responseTime)
    })
  })
}

export interface UndiciLoadOptions extends LoadOptions {
  /**
   * Requests per second, sent evenly in an open loop (autocannon's overallRate sends each second's
   * budget in a burst), `rate * seconds` in all. Latency then counts from when a request was due,
   * so a slow server cannot hide its queue. Without it: a closed loop, `connections` in flight.
   */
  rate?: number
  headers?: (id: number) => Record<string, string>
}

/** An undici pool with keep-alive, one request per connection at a time. */
export async function undiciLoad(options: UndiciLoadOptions): Promise<LoadResult> {
  const url = new URL(options.url)
  const pool = new Pool(url.origin, {
    connections: options.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
  })
  const c = counters()
  const send = async (dueMs: number) => {
    const id = options.ids.next++
    c.sent++
    try {
      const { statusCode, body } = await pool.request({
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...options.headers?.(id) },
        body: messageEventBody(id),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      })
      const text = await body.text()
      if (statusCode < 200 || statusCode >= 300) c.non2xx++
      if (statusCode !== 200) return
      const at = nowMs()
      c.latency.record(at - dueMs)
      acked(c, id, text, at, options.onAck)
    } catch {
      c.errors++
    }
  }
  const start = nowMs()
  try {
    if (options.rate) {
      const total = Math.round(options.rate * options.seconds)
      const intervalMs = 1000 / options.rate
      const inFlight: Promise<void>[] = []
      while (c.sent < total) {
        const due = Math.min(total, Math.floor((nowMs() - start) / intervalMs) + 1)
        while (c.sent < due) inFlight.push(send(start + c.sent * intervalMs))
        await sleep(1)
      }
      await Promise.all(inFlight)
    } else {
      const end = start + options.seconds * 1000
      const worker = async () => {
        while (nowMs() < end) await send(nowMs())
      }
      await Promise.all(Array.from({ length: options.connections }, worker))
    }
  } finally {
    await pool.close()
  }
  const seconds = (nowMs() - start) / 1000
  return { ...c, seconds, rps: c.ok / seconds }
}

/**
 * One load split over several servers at once, as a load balancer would: `load` runs once per URL
 * with its share of the connections and of the rate, all drawing from the same ids and acks; the
 * figures are summed.
 */
export async function splitLoad(
  urls: string[],
  options: Omit<UndiciLoadOptions, 'url'>,
  load: (options: UndiciLoadOptions) => Promise<LoadResult>,
): Promise<LoadResult> {
  const parts = await Promise.all(
    urls.map((url, i) =>
      load({
        ...options,
        url,
        // Whole shares that add up to the total: 50 over 2 is 25 and 25, 5 is 2 and 3.
        connections: Math.floor((options.connections + i) / urls.length),
        rate: options.rate && options.rate / urls.length,
      }),
    ),
  )
  const sum = counters()
  for (const part of parts) {
    for (const key of ['sent', 'ok', 'non2xx', 'errors', 'wrongAckIds'] as const) sum[key] += part[key]
    sum.latency.histogram.add(part.latency.histogram)
  }
  const seconds = Math.max(...parts.map((part) => part.seconds))
  return { ...sum, seconds, rps: sum.ok / seconds }
}
