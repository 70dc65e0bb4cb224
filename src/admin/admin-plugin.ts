// The operator's console: the admin API (events, deliveries and their attempts, replay, targets,
// refused requests, status, /metrics), its OpenAPI document and the web dashboard. Registered only
// when ADMIN_TOKEN is set; auth.ts guards every route.
import type { FastifyError, FastifyInstance } from 'fastify'
import {
  hasZodFastifySchemaValidationErrors,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod'
import type { Registry } from 'prom-client'
import type { TargetType } from '../delivery/targets.ts'
import type { AdminStore } from '../store/types.ts'
import type { RegistrationStatus } from '../whatsgate/registrar.ts'
import { adminAuth } from './auth.ts'
import { dashboardRoutes } from './dashboard/plugin.ts'
import { openApi } from './openapi.ts'
import { conflictRoutes } from './routes/conflicts.ts'
import { deliveryRoutes } from './routes/deliveries.ts'
import { eventRoutes } from './routes/events.ts'
import { refusedRoutes } from './routes/refused.ts'
import { statusRoutes } from './routes/status.ts'
import { targetRoutes } from './routes/targets.ts'

export interface AdminOptions {
  store: AdminStore
  token: string
  /** The configured targets: their names and kinds (a stream's consumers pull: no pause). */
  targets: readonly { name: string; type: TargetType }[]
  /** Wakes the dispatcher after a replay. */
  onReplay: () => void
  /** Wakes the dispatcher for a target resumed; other replicas find its work at their next poll. */
  onResume: (target: string) => void
  /** The targets this replica's dispatcher sees failing. */
  failingTargets: () => readonly string[]
  metrics: Registry
  /** Which outbox serves, for GET /admin/status. */
  storeKind: 'sqlite' | 'postgres'
  /** Throws when the store cannot serve (as /readyz asks it). */
  pingStore: () => Promise<void>
  /** WhatsGate registration per session; null without an API key or registration. */
  registration: () => RegistrationStatus | null
  /** The relay's clock: replays, pauses, sessions and the status's ages are stamped with it. */
  now: () => number
}

const PLACES = { querystring: 'query', params: 'path', body: 'body', headers: 'headers' } as const

export async function adminPlugin(app: FastifyInstance, opts: AdminOptions): Promise<void> {
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  // A bad input is a 400 naming each field at fault; anything else goes to the app's handler.
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (!hasZodFastifySchemaValidationErrors(error)) throw error
    const place = PLACES[error.validationContext ?? 'body']
    const issues = error.validation.map((issue) => ({
      // The event route's wildcard is the event key.
      path: issue.instancePath.slice(1).replaceAll('/', '.').replace(/^\*$/, 'key') || '(root)',
      message: issue.message,
    }))
    return reply.code(400).send({ error: `bad ${place}`, issues })
  })

  await openApi(app)
  await adminAuth(app, { token: opts.token, now: opts.now })
  await app.register(dashboardRoutes)
  await app.register(statusRoutes, opts)
  await app.register(eventRoutes, opts)
  await app.register(deliveryRoutes, opts)
  await app.register(refusedRoutes, opts)
  await app.register(conflictRoutes, opts)
  await app.register(targetRoutes, opts)
}
