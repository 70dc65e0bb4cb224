// The chaos bench's delivery target: a sink in the bench's own process that can flap. It is down
// (port closed, every connection cut), answers 500, stalls (reads the request, never answers), or
// answers 429 with Retry-After, and comes back on the same port. Only requests it answered 200 count
// as arrivals: a 500, a 429 or a stall is not a delivery, so the relay's retry of it is no duplicate.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { idFromKey, messageEventBody } from './event.ts'
import { nowMs } from './process.ts'

export type SinkMode = 'healthy' | 'down' | 'error' | 'stall' | 'throttle'

/** One webhook-id as the sink saw it, counting only the requests it answered 200. */
export interface Arrival {
  count: number
  /** nowMs() of the first 200. */
  firstAtMs: number
}

export interface ChaosSink {
  /** The hook URL, the same whichever mode. */
  readonly url: string
  readonly mode: SinkMode
  setMode(mode: SinkMode): Promise<void>
  /** Answered 200, by webhook-id. */
  readonly arrivals: Map<string, Arrival>
  /** Requests answered otherwise: 500s, 429s, and stalled (never answered). */
  readonly refused: { error: number; throttle: number; stall: number }
  /** Bodies that were not byte for byte the event their webhook-id names, and requests without one. */
  readonly problems: { alteredBodies: number; missingKey: number }
  close(): Promise<void>
}

export interface ChaosSinkOptions {
  /** A healthy answer comes after a random 0..latencyMs, so that kills find sends in flight. */
  latencyMs?: number
  /** Seconds in the 429's Retry-After. */
  retryAfterSeconds?: number
  random?: () => number
}

export async function startChaosSink(options: ChaosSinkOptions = {}): Promise<ChaosSink> {
  const { latencyMs = 0, retryAfterSeconds = 1, random = Math.random } = options
  const arrivals = new Map<string, Arrival>()
  const refused = { error: 0, throttle: 0, stall: 0 }
  const problems = { alteredBodies: 0, missingKey: 0 }
  const sockets = new Set<Socket>()
  let mode: SinkMode = 'healthy'
  let port = 0
  let server: Server | null = null

  const answerOk = (key: string | undefined, body: string, response: ServerResponse) => {
    if (response.destroyed) return
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
    if (key === undefined) return
    const seen = arrivals.get(key)
    if (seen) seen.count++
    else arrivals.set(key, { count: 1, firstAtMs: nowMs() })
    if (body !== messageEventBody(idFromKey(key), key.slice(0, key.indexOf(':')))) problems.alteredBodies++
  }

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const header = request.headers['webhook-id']
      const key = typeof header === 'string' ? header : undefined
      if (key === undefined) problems.missingKey++
      if (mode === 'error') {
        refused.error++
        response.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"chaos"}')
      } else if (mode === 'throttle') {
        refused.throttle++
        response
          .writeHead(429, { 'content-type': 'application/json', 'retry-after': String(retryAfterSeconds) })
          .end('{"error":"slow down"}')
      } else if (mode === 'stall') {
        // Never answered: the relay's timeout ends it, or going down cuts it.
        refused.stall++
      } else {
        const body = Buffer.concat(chunks).toString('utf8')
        const delay = latencyMs > 0 ? Math.floor(random() * latencyMs) : 0
        if (delay === 0) answerOk(key, body, response)
        else setTimeout(() => answerOk(key, body, response), delay)
      }
    })
  }

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const next = createServer(handle)
      next.keepAliveTimeout = 120_000
      next.on('connection', (socket: Socket) => {
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
      })
      next.once('error', reject)
      next.listen(port, '127.0.0.1', () => {
        port = (next.address() as AddressInfo).port
        server = next
        resolve()
      })
    })

  const shut = async () => {
    const current = server
    if (!current) return
    server = null
    const closed = new Promise<void>((resolve) => current.close(() => resolve()))
    for (const socket of sockets) socket.destroy()
    current.closeAllConnections()
    await closed
  }

  await listen()
  return {
    url: `http://127.0.0.1:${port}/hook`,
    get mode() {
      return mode
    },
    async setMode(next) {
      if (next === mode) return
      const wasDown = mode === 'down'
      mode = next
      if (next === 'down') await shut()
      // Back on the same port: a target that comes back where it was.
      else if (wasDown) await listen()
    },
    arrivals,
    refused,
    problems,
    close: shut,
  }
}
