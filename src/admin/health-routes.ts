import type { FastifyInstance } from 'fastify'
import { configWarnings } from '../config/warnings.ts'
import { reasonOf } from '../store/errors.ts'

export interface HealthRouteOptions {
  /** Throws when the store refuses writes (a write probe, store/write-health.ts). */
  pingStore: () => Promise<void>
  /** Extra detail for /readyz's body (registration state, ...). */
  details?: () => Record<string, unknown>
}

export async function healthRoutes(app: FastifyInstance, opts: HealthRouteOptions): Promise<void> {
  // What start-up logged as a warning stays visible here: the configuration does not change while
  // the relay runs. Ready all the same (it takes events), so a load balancer keeps sending them.
  const warnings = configWarnings(app.relayConfig)
  const warned = warnings.length > 0 ? { warnings } : {}

  app.get('/healthz', async () => ({ status: 'ok' }))

  app.get('/readyz', async (request, reply) => {
    const details = opts.details?.() ?? {}
    try {
      await opts.pingStore()
    } catch (error) {
      const reason = reasonOf(error)
      request.log.warn({ reason }, 'store refuses writes: not ready')
      return reply
        .code(503)
        .send({ status: 'unavailable', store: 'refusing writes', reason, ...details, ...warned })
    }
    return { status: 'ready', store: 'ok', ...details, ...warned }
  })
}
