// The operator's console: the admin API (events, deliveries and their attempts, replay, targets,
// refused requests, sessions, status, /metrics), its OpenAPI document and the web dashboard.
// Registered only when ADMIN_TOKEN is set; auth.ts guards every route.
import type { FastifyError, FastifyInstance, FastifySchemaValidationError } from 'fastify'
import {
  hasZodFastifySchemaValidationErrors,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod'
import type { Registry } from 'prom-client'
import type { Alerts } from '../alerts/alerts.ts'
import type { ReplicaStatus } from '../delivery/replica-heartbeat.ts'
import type { Target } from '../delivery/targets.ts'
import { createAggregateLog } from '../shared/aggregate-log.ts'
import type {
  AdminSessionStore,
  AdminStore,
  AlertStore,
  AuditStore,
  DeadLetterStore,
  StatsStore,
} from '../store/types.ts'
import type { RegistrationStatus } from '../whatsgate/registrar.ts'
import { adminAuth, createAuthFailures } from './auth.ts'
import { type AuthLimitsOptions, createAuthLimits } from './auth-limits.ts'
import { dashboardRoutes } from './dashboard/plugin.ts'
import { openApi } from './openapi.ts'
import { alertRoutes } from './routes/alerts.ts'
import { auditRoutes } from './routes/audit.ts'
import { conflictRoutes } from './routes/conflicts.ts'
import { deadLetterRoutes } from './routes/dead-letters.ts'
import { deliveryRoutes } from './routes/deliveries.ts'
import { eventRoutes } from './routes/events.ts'
import { refusedRoutes } from './routes/refused.ts'
import { sessionRoutes } from './routes/sessions.ts'
import { statsRoutes } from './routes/stats.ts'
import { statusRoutes } from './routes/status.ts'
import { targetRoutes } from './routes/targets.ts'
import { createAdminSessions } from './sessions.ts'

export interface AdminOptions {
  store: AdminStore & AdminSessionStore & AlertStore & DeadLetterStore & AuditStore & StatsStore
  token: string
  /** Read-only access; null = none. */
  viewerToken: string | null
  /** A dashboard session ends after this long unused, or this long after sign-in. */
  sessionIdleMs: number
  sessionLifetimeMs: number
  authLimits: AuthLimitsOptions
  /** Counts refused credentials and lockouts (metrics). */
  onAuthFailure?: (credential: string) => void
  onAuthLocked?: () => void
  /**
   * The configured targets (a stream's consumers pull: no pause): shown without credentials, and
   * read by routing for the events' "why not" (routes/event-outcomes.ts).
   */
  targets: readonly Target[]
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
  /** The replicas dispatching from the store, as their heartbeats show them (this one on SQLite). */
  replicas: () => Promise<ReplicaStatus[]>
  /** The relay's clock: replays, pauses, sessions and the status's ages are stamped with it. */
  now: () => number
  /** The alerts loop (alerts/): its channels, and a test message to each. */
  alerts?: Pick<Alerts, 'channels' | 'test'>
  /** Per target, how many sends this replica's dispatcher allows at once now. */
  concurrency?: () => ReadonlyMap<string, number>
  /** Per stream target, how many consumers are connected to this replica. */
  streamConsumers?: () => ReadonlyMap<string, number>
}

const PLACES = { querystring: 'query', params: 'path', body: 'body', headers: 'headers' } as const

const UTF8 = new TextDecoder('utf-8', { fatal: true })
const NOT_UTF8 = 'ADMIN_BODY_NOT_UTF8'

// Fastify's own refusals of a body, before any schema sees it, said as a person would.
const BODY_REFUSALS: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'not valid JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'empty, but its content-type says JSON: send {} or no content-type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'its length does not match its content-length',
  FST_ERR_CTP_BODY_TOO_LARGE: 'larger than the limit of',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'must be sent as application/json',
  [NOT_UTF8]: 'not valid UTF-8',
}

type Issue = { path: string; message: string }

export async function adminPlugin(app: FastifyInstance, opts: AdminOptions): Promise<void> {
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  // Every body the admin API takes is JSON: plain text would reach a schema as a string.
  app.removeContentTypeParser(['text/plain', 'application/json'])
  // JSON is UTF-8 (RFC 8259): Fastify's own parser would read invalid bytes as U+FFFD and go on.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string
    try {
      text = UTF8.decode(body as Buffer)
    } catch {
      return done(Object.assign(new Error('not valid UTF-8'), { statusCode: 400, code: NOT_UTF8 }), undefined)
    }
    parseJson(request, text, done)
  })

  // Every refusal of an input is `{ error, issues }`, the shape the routes' 400 answer declares: an
  // answer that did not match it would fail to serialize and become a 500. A 5xx goes on to the
  // app's handler (app.ts), which logs it and hides its message.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const place = PLACES[error.validationContext ?? 'body']
      // A number too large fails two checks with one message: said once.
      const issues = error.validation.flatMap(issueOf)
      const unique = issues.filter(
        (a, i) => issues.findIndex((b) => b.path === a.path && b.message === a.message) === i,
      )
      return reply.code(400).send({ error: `bad ${place}`, issues: unique })
    }
    const status = error.statusCode ?? 500
    if (status >= 500) throw error
    const refusal = error.code === undefined ? undefined : BODY_REFUSALS[error.code]
    if (refusal === undefined) return reply.code(status).send({ error: error.message, issues: [] })
    const path = status === 415 ? 'content-type' : '(root)'
    const message = status === 413 ? `${refusal} ${request.routeOptions.bodyLimit} bytes` : refusal
    return reply.code(status).send({ error: 'bad body', issues: [{ path, message }] })
  })

  // A call that takes no body refuses one rather than ignore it (a replay's selector sent to a
  // pause is a mistake to name); `{}` passes, as the dashboard and the CLI send it.
  app.addHook('preValidation', async (request, reply) => {
    const { body } = request
    if (request.routeOptions.schema?.body !== undefined || body === undefined) return
    if (typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 0)
      return
    const issues = [{ path: '(root)', message: 'this call takes no body (or {})' }]
    return reply.code(400).send({ error: 'bad body', issues })
  })

  await openApi(app)
  const sessions = createAdminSessions({
    store: opts.store,
    tokens: { admin: opts.token, viewer: opts.viewerToken },
    now: opts.now,
    idleMs: opts.sessionIdleMs,
    lifetimeMs: opts.sessionLifetimeMs,
  })
  // A guesser must not be able to fill the log: one line per address and minute, with a count.
  const failureLog = createAggregateLog({ log: app.log, message: 'admin authentication failed' })
  const lockedLog = createAggregateLog({
    log: app.log,
    message: 'admin authentication refused: too many failures (429)',
  })
  const failures = createAuthFailures({
    limits: createAuthLimits(opts.authLimits),
    onFailure: (address, credential) => {
      failureLog.record(address, { ip: address, credential })
      opts.onAuthFailure?.(credential)
    },
    onLocked: (address) => {
      lockedLog.record(address, { ip: address })
      opts.onAuthLocked?.()
    },
  })
  // Sessions of a token no longer set go at start, not only when someone presents them. Tidying,
  // not a condition of starting: a store that refuses it now is answered elsewhere (503, /readyz).
  app.addHook('onReady', async () => {
    await sessions
      .prune()
      .catch((error: unknown) => app.log.warn({ err: error }, 'admin sessions not pruned'))
  })
  app.addHook('onClose', async () => {
    failureLog.close()
    lockedLog.close()
  })
  await adminAuth(app, { sessions, failures })
  await app.register(sessionRoutes, { sessions, failures, lifetimeMs: opts.sessionLifetimeMs })
  await app.register(dashboardRoutes)
  await app.register(statusRoutes, opts)
  await app.register(eventRoutes, opts)
  await app.register(deliveryRoutes, opts)
  await app.register(refusedRoutes, opts)
  await app.register(conflictRoutes, opts)
  await app.register(targetRoutes, opts)
  await app.register(alertRoutes, opts)
  await app.register(deadLetterRoutes, opts)
  await app.register(auditRoutes, opts)
  await app.register(statsRoutes, opts)
}

/** One issue per field: an unknown key is named itself, not as "(root)". */
function issueOf(issue: FastifySchemaValidationError): Issue[] {
  // The event route's wildcard is the event key.
  const path = issue.instancePath.slice(1).replaceAll('/', '.').replace(/^\*$/, 'key')
  const keys = issue.keyword === 'unrecognized_keys' ? (issue.params.keys as string[] | undefined) : undefined
  if (keys) return keys.map((key) => ({ path: path ? `${path}.${key}` : key, message: 'unknown field' }))
  if (path === '' && issue.keyword === 'invalid_type' && issue.params.expected === 'object') {
    return [{ path: '(root)', message: 'must be a JSON object' }]
  }
  return [{ path: path || '(root)', message: issue.message ?? 'invalid' }]
}
