// What the baseline servers share (bare-server.ts, durable-floor.ts): a Fastify app that keeps
// each JSON body raw beside its parse, a health route, and a stop on SIGTERM.
import Fastify, { type FastifyInstance } from 'fastify'

/** The fields of a WhatsGate event that a baseline reads. */
export interface BareEvent {
  id?: unknown
  whatsapp_id?: unknown
  event_action?: unknown
}

export interface BareBody {
  raw: Buffer
  json: BareEvent
}

export function bareApp(): FastifyInstance {
  const app = Fastify({ logger: false })
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, { raw: body, json: JSON.parse(body.toString()) })
    } catch (error) {
      done(error as Error)
    }
  })
  app.get('/healthz', async () => ({ status: 'ok' }))
  return app
}

/** Listens on PORT and HOST; on SIGTERM or SIGINT runs `close` and exits. */
export async function serve(app: FastifyInstance, close: () => Promise<unknown>): Promise<void> {
  const shutdown = () => {
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
  await app.listen({ port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' })
}
