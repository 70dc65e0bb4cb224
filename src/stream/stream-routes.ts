// GET /stream/<name>: a stream target served as server-sent events, for consumers that cannot
// take an incoming request. Each event's id is its position in the stream (its delivery's id); a
// client that reconnects with Last-Event-ID (an EventSource does it by itself) gets what follows,
// and so confirms what it had. POST /stream/<name>/ack confirms without reconnecting.
import { once } from 'node:events'
import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { createTokenCheck } from '../shared/token-check.ts'
import { SSE_HEADERS, SSE_HEARTBEAT, SSE_PREAMBLE, sseMessage } from './sse.ts'
import type { Streams } from './streams.ts'

export interface StreamRoutesOptions {
  streams: Streams
}

/** Entries read (and written) per turn of one consumer: what a consumer costs at most. */
const PAGE_SIZE = 200
/** How often an idle stream gets a comment, so proxies keep it open. */
const HEARTBEAT_MS = 15_000

interface StreamRoute {
  Params: { name: string }
  Querystring: { token?: string }
  Body: unknown
}
type StreamRequest = FastifyRequest<StreamRoute>

// One answer for an unknown stream and a wrong token: a stranger learns no stream's name.
const UNAUTHORIZED = { error: 'unknown stream or wrong token' }
// A position is a delivery id: digits, well within a safe integer.
const POSITION = /^\d{1,15}$/

export async function streamRoutes(app: FastifyInstance, opts: StreamRoutesOptions): Promise<void> {
  const { streams } = opts
  const checks = new Map(streams.targets.map((target) => [target.name, createTokenCheck(target.token)]))
  const open = new Set<ServerResponse>()
  const closing = new AbortController()

  const heartbeat = setInterval(() => {
    for (const response of open) if (!response.writableNeedDrain) response.write(SSE_HEARTBEAT)
  }, HEARTBEAT_MS)
  heartbeat.unref()
  // Before the server waits for requests to finish: a stream would not, on its own.
  app.addHook('preClose', async () => {
    clearInterval(heartbeat)
    closing.abort()
  })

  /** The stream's name when the request presents its token (a bearer token, or `?token=`). */
  function authorized(request: StreamRequest, reply: FastifyReply): string | null {
    const { name } = request.params
    const header = request.headers.authorization
    const query = request.query.token
    // `?token=a&token=b` parses as an array: not a token.
    const presented = header?.startsWith('Bearer ')
      ? header.slice(7)
      : typeof query === 'string'
        ? query
        : undefined
    if (checks.get(name)?.(presented)) return name
    request.log.warn({ target: name }, 'stream request refused: unknown stream or wrong token')
    void reply.code(401).header('www-authenticate', 'Bearer').send(UNAUTHORIZED)
    return null
  }

  app.get<StreamRoute>('/stream/:name', async (request, reply) => {
    const name = authorized(request, reply)
    if (name === null) return reply
    const lastEventId = request.headers['last-event-id']
    if (lastEventId !== undefined && (typeof lastEventId !== 'string' || !POSITION.test(lastEventId))) {
      return reply.code(400).send({ error: 'Last-Event-ID is not a position of this stream' })
    }
    // A reconnecting client has had everything up to its Last-Event-ID; a new one resumes where
    // the stream's consumer last confirmed.
    const from = lastEventId === undefined ? await streams.position(name) : Number(lastEventId)
    if (lastEventId !== undefined) await streams.confirm(name, from)

    reply.hijack()
    const response = reply.raw
    const left = new AbortController()
    const signal = AbortSignal.any([left.signal, closing.signal])
    response.on('close', () => left.abort())
    response.writeHead(200, SSE_HEADERS)
    response.write(SSE_PREAMBLE)
    open.add(response)
    const leave = streams.join(name)
    request.log.info({ target: name, from }, 'stream consumer connected')
    try {
      await serve(name, from, response, signal)
    } catch (error) {
      if (!signal.aborted)
        request.log.error({ err: error, target: name }, 'stream cut; the consumer reconnects')
    } finally {
      open.delete(response)
      leave()
      response.end()
      request.log.info({ target: name }, 'stream consumer left')
    }
  })

  /** Writes the stream from `position` on, a page at a time, then waits for more, until `signal`. */
  async function serve(name: string, from: number, response: ServerResponse, signal: AbortSignal) {
    let position = from
    while (!signal.aborted) {
      const generation = streams.generation(name)
      const entries = await streams.read(name, position, PAGE_SIZE)
      if (signal.aborted) return
      if (entries.length > 0) {
        position = entries[entries.length - 1]?.id ?? position
        const flowing = response.write(entries.map((entry) => sseMessage(entry.id, entry.body)).join(''))
        // A slow consumer: wait for its socket rather than read further ahead of it.
        if (!flowing) await once(response, 'drain', { signal })
      }
      if (entries.length < PAGE_SIZE) await streams.waitBeyond(name, position, generation, signal)
    }
  }

  app.post<StreamRoute>('/stream/:name/ack', async (request, reply) => {
    const name = authorized(request, reply)
    if (name === null) return reply
    const id = (request.body as { id?: unknown } | undefined)?.id
    const text = typeof id === 'number' ? String(id) : id
    if (typeof text !== 'string' || !POSITION.test(text)) {
      return reply.code(400).send({ error: 'send {"id": <the id of the last event processed>}' })
    }
    return { position: await streams.confirm(name, Number(text)) }
  })
}
