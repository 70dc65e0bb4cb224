import type { FastifyInstance } from 'fastify'

export interface HealthRouteOptions {
  /** Throws when the store cannot serve. */
  pingStore: () => Promise<void>
  /** Extra detail for /readyz's body (registration state, ...). */
  details?: () => Record<string, unknown>
}

export async function healthRoutes(app: FastifyInstance, opts: HealthRouteOptions): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }))

  app.get('/readyz', async (request, reply) => {
    const details = opts.details?.() ?? {}
    try {
      await opts.pingStore()
    } catch (error) {
      request.log.warn({ err: error }, 'store not ready')
      return reply.code(503).send({ status: 'unavailable', store: 'unavailable', ...details })
    }
    return { status: 'ready', store: 'ok', ...details }
  })
}
