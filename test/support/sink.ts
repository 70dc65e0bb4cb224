// A real HTTP target for tests: records every request and answers as the test scripts it.
// Shared by the delivery, dispatcher and crash tests, so its API changes carefully.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface ReceivedRequest {
  method: string
  /** Path and query string. */
  path: string
  /** Lower-cased names, as node:http gives them. */
  headers: IncomingHttpHeaders
  body: Buffer
  /** Date.now() when the body was fully received. */
  at: number
}

export interface Reply {
  /** Default 200. */
  status?: number
  headers?: Record<string, string>
  /** Default `{"ok":true}` (with content-type application/json unless headers set one). */
  body?: string
  /** Answer after this long. */
  delayMs?: number
  /** Never answer; the socket is destroyed by close(). */
  stall?: boolean
}

/** `index` is the request's position in `requests` (0-based). */
export type ReplyHandler = (request: ReceivedRequest, index: number) => Reply | Promise<Reply>

export interface SinkOptions {
  /** Initial handler; the same as calling respondWith() right after start. */
  respondWith?: ReplyHandler
  /** Listen on this port (a target that comes back where it was); default any free port. */
  port?: number
}

export interface Sink {
  /** Base URL, `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly url: string
  /** Every request received so far, in arrival order. */
  readonly requests: ReceivedRequest[]
  respondWith(handler: ReplyHandler): void
  /** Resolves once at least `count` requests have arrived; rejects after timeoutMs. */
  waitFor(count: number, timeoutMs?: number): Promise<void>
  /** TCP connections accepted so far (keep-alive reuse keeps this low). */
  readonly connections: number
  /** Stops listening and destroys every socket, stalled ones included. */
  close(): Promise<void>
}

const DEFAULT_REPLY: Reply = { status: 200, body: '{"ok":true}' }

export async function startSink(options: SinkOptions = {}): Promise<Sink> {
  const requests: ReceivedRequest[] = []
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const waiters = new Set<() => void>()
  let handler: ReplyHandler = options.respondWith ?? (() => DEFAULT_REPLY)
  let connections = 0
  let closed = false

  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const received: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      }
      const index = requests.push(received) - 1
      for (const wake of waiters) wake()
      void answer(res, received, index)
    })
  })
  server.on('connection', (socket) => {
    connections += 1
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  async function answer(res: ServerResponse, received: ReceivedRequest, index: number) {
    let reply: Reply
    try {
      reply = await handler(received, index)
    } catch (error) {
      // A throwing handler is a test bug; answer loudly rather than hang the sender.
      reply = { status: 500, body: JSON.stringify({ sinkHandlerError: String(error) }) }
    }
    if (reply.stall) return
    const write = () => {
      // Not req.destroyed: a fully read request is auto-destroyed while its response is still open.
      if (res.destroyed) return
      const headers = { 'content-type': 'application/json', ...reply.headers }
      res.writeHead(reply.status ?? 200, headers)
      res.end(reply.body ?? DEFAULT_REPLY.body)
    }
    if (!reply.delayMs) return write()
    const timer = setTimeout(() => {
      timers.delete(timer)
      write()
    }, reply.delayMs)
    timers.add(timer)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get connections() {
      return connections
    },
    respondWith(next) {
      handler = next
    },
    waitFor(count, timeoutMs = 10_000) {
      if (requests.length >= count) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        const wake = () => {
          if (requests.length < count) return
          clearTimeout(timer)
          waiters.delete(wake)
          resolve()
        }
        const timer = setTimeout(() => {
          waiters.delete(wake)
          reject(new Error(`sink: waited ${timeoutMs} ms for ${count} requests, got ${requests.length}`))
        }, timeoutMs)
        waiters.add(wake)
      })
    },
    async close() {
      if (closed) return
      closed = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const socket of sockets) socket.destroy()
      server.closeAllConnections()
      await stopped
    },
  }
}
