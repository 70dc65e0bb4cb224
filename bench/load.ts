import autocannon from 'autocannon'
import { Pool } from 'undici'
import { type LatencyHistogram, latencyHistogram } from './measure.ts'
import { nowMs, sleep } from './support.ts'
import { idFromAck, messageEventBody } from './whatsgate-event.ts'

/** One counter for the whole run, so no two requests of any round carry the same event id. */
export interface IdSource {
  next: number
}

export interface LoadOptions {
  url: string
  seconds: number
  connections: number
  ids: IdSource
  /** autocannon's overallRate: a per-second budget that each connection spends at the start of the second. */
  overallRate?: number
  onAck?: (id: number, atMs: number) => void
}

export interface LoadResult {
  seconds: number
  /** Requests written; those in flight when a timed run stops are sent but never answered. */
  sent: number
  ok: number
  non2xx: number
  errors: number
  timeouts: number
  /** Answers whose `id` was not the id of the event that connection had sent. */
  wrongAckIds: number
  rps: number
  latency: LatencyHistogram
  statusCodes: Record<string, number>
}

/** autocannon posting a fresh WhatsGate message event (new id) on every request. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latency = latencyHistogram()
  let ok = 0
  let sent = 0
  let wrongAckIds = 0
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.seconds,
        overallRate: options.overallRate,
        timeout: 10,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        requests: [
          {
            // autocannon clones the requests per connection, and calls this right before each write.
            setupRequest: (request, context) => {
              const id = options.ids.next++
              sent++
              context.id = id
              request.body = messageEventBody(id)
              return request
            },
            onResponse: (status, body, context) => {
              if (status !== 200) return
              const at = nowMs()
              ok++
              const id = idFromAck(body)
              if (id !== context.id) wrongAckIds++
              options.onAck?.(id, at)
            },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error)
        const statusCodes: Record<string, number> = {}
        for (const [code, stats] of Object.entries(result.statusCodeStats ?? {}))
          statusCodes[code] = stats.count
        resolve({
          seconds: result.duration,
          sent,
          ok,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          wrongAckIds,
          rps: ok / result.duration,
          latency,
          statusCodes,
        })
      },
    )
    instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
      if (status >= 200 && status < 300) latency.record(responseTime)
    })
  })
}

export interface PacedLoadOptions {
  url: string
  rate: number
  seconds: number
  connections: number
  ids: IdSource
  onAck?: (id: number, atMs: number) => void
}

/**
 * An open-loop load at an even rate (autocannon's overallRate sends each second's budget in a
 * burst). Latency counts from when a request was due, so a slow server cannot hide its queue.
 */
export async function runPacedLoad(options: PacedLoadOptions): Promise<LoadResult> {
  const url = new URL(options.url)
  const pool = new Pool(url.origin, {
    connections: options.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
  })
  const latency = latencyHistogram()
  const statusCodes: Record<string, number> = {}
  const total = Math.round(options.rate * options.seconds)
  const intervalMs = 1000 / options.rate
  let ok = 0
  let errors = 0
  let wrongAckIds = 0
  const inFlight = new Set<Promise<void>>()
  const send = (dueMs: number) => {
    const id = options.ids.next++
    const request = pool
      .request({
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: messageEventBody(id),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      })
      .then(async ({ statusCode, body }) => {
        const text = await body.text()
        const at = nowMs()
        statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1
        if (statusCode !== 200) return
        ok++
        latency.record(at - dueMs)
        const ackId = idFromAck(text)
        if (ackId !== id) wrongAckIds++
        options.onAck?.(ackId, at)
      })
      .catch(() => {
        errors++
      })
      .finally(() => inFlight.delete(request))
    inFlight.add(request)
  }
  const start = nowMs()
  let sent = 0
  try {
    while (sent < total) {
      const due = Math.min(total, Math.floor((nowMs() - start) / intervalMs) + 1)
      for (; sent < due; sent++) send(start + sent * intervalMs)
      await sleep(1)
    }
    await Promise.all(inFlight)
  } finally {
    await pool.close()
  }
  const seconds = (nowMs() - start) / 1000
  const non2xx = Object.entries(statusCodes).reduce(
    (sum, [code, n]) => sum + (code.startsWith('2') ? 0 : n),
    0,
  )
  return {
    seconds,
    sent,
    ok,
    non2xx,
    errors,
    timeouts: 0,
    wrongAckIds,
    rps: ok / seconds,
    latency,
    statusCodes,
  }
}
