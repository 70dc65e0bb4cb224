// The operator's API: events (non-conforming ones above all) and one event with everything that
// became of it, the webhook requests refused, deliveries (dead letters above all) and one with its
// attempt history, replay, targets paused and resumed, and /metrics.
// Registered only when ADMIN_TOKEN is set; every request must carry it as a bearer token.
import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { z } from 'zod'
import { targetNameSchema } from '../delivery/targets.ts'
import { createTokenCheck } from '../shared/token-check.ts'
import type { AdminStore, RefusedRow } from '../store/types.ts'
import { VERSION } from '../version.ts'
import type { RegistrationStatus } from '../whatsgate/registrar.ts'

export interface AdminRouteOptions {
  store: AdminStore
  token: string
  targetNames: readonly string[]
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
  /** The relay's clock: replays, pauses and the status's ages are stamped with it. */
  now: () => number
}

/** A target as GET /admin/targets shows it. */
export type TargetState = 'ok' | 'failing' | 'paused'

const listQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'dead']).optional(),
  target: z.string().optional(),
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
})

// Times as ISO 8601 (`2026-12-02T10:00:00Z`), read as instants.
const instant = z.iso.datetime({ offset: true }).transform((text) => Date.parse(text))

const eventsQuery = z.strictObject({
  conforming: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional(),
  session: z.string().min(1).optional(),
  action: z.string().min(1).optional(),
  from: instant.optional(),
  to: instant.optional(),
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
})

const pageQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
})

// int() also bounds it to a safe integer: what both stores' ids can be.
const deliveryParams = z.strictObject({ id: z.coerce.number().int().positive() })

// The key as the store builds it (events/schemas.ts bounds each part): no ':' in the first two.
const eventParams = z.strictObject({
  key: z
    .string()
    .regex(/^[^:\0]{1,128}:[^:\0]{1,64}:[^\0]{1,128}$/, 'must be <whatsapp_id>:<event_action>:<id>'),
})

// A target name's form: one that cannot be a name is a bad request, one
// that could be but is not configured is unknown (404).
const targetParams = z.strictObject({ name: targetNameSchema })

const replayBody = z.union([
  z.strictObject({ ids: z.array(z.number().int().positive()).min(1).max(10_000) }),
  z.strictObject({ target: z.string(), status: z.literal('dead') }),
  z.strictObject({ event: eventParams.shape.key }),
])

export async function adminRoutes(app: FastifyInstance, opts: AdminRouteOptions): Promise<void> {
  const tokenMatches = createTokenCheck(opts.token)

  app.addHook('onRequest', async (request, reply) => {
    const presented = request.headers.authorization?.replace(/^Bearer /i, '')
    if (!tokenMatches(presented)) return reply.code(401).send({ error: 'admin token required' })
  })

  // The overview: is the relay well, what waits where, and is WhatsGate pointed here.
  app.get('/admin/status', async () => {
    const now = opts.now()
    const [healthy, paused, backlog, lastMinute, lastHour] = await Promise.all([
      opts.pingStore().then(
        () => true,
        () => false,
      ),
      opts.store.pausedTargets(),
      opts.store.backlog(),
      opts.store.countReceivedSince(now - 60_000),
      opts.store.countReceivedSince(now - 3_600_000),
    ])
    const failing = new Set(opts.failingTargets())
    return {
      version: VERSION,
      uptimeSeconds: Math.round(process.uptime()),
      store: { kind: opts.storeKind, healthy },
      targets: opts.targetNames.map((name) => {
        const waiting = backlog.get(name)
        return {
          name,
          state: stateOf(name, paused, failing),
          pending: waiting?.pending ?? 0,
          oldestPendingAgeSeconds: waiting
            ? Math.max(0, Math.round((now - waiting.oldestReceivedAt) / 1000))
            : null,
        }
      }),
      registration: opts.registration(),
      eventsReceived: { lastMinute, lastHour },
    }
  })

  app.get('/admin/events', async (request, reply) => {
    const query = eventsQuery.safeParse(request.query)
    if (!query.success) return reply.code(400).send({ error: 'bad query', issues: issuesOf(query.error) })
    const { conforming, session, action, from, to, after, limit } = query.data
    const events = await opts.store.listEvents({
      conforming,
      whatsappId: session,
      action,
      receivedFrom: from,
      receivedBefore: to,
      afterSeq: after,
      limit,
    })
    return { events, next: events.length === limit ? events.at(-1)?.seq : null }
  })

  // A wildcard, not a `:key` parameter: Fastify refuses parameters over 100 characters (414), and
  // a key may reach 322. The key comes URL-encoded, and decoded here.
  app.get<{ Params: { '*': string } }>('/admin/events/*', async (request, reply) => {
    const params = eventParams.safeParse({ key: request.params['*'] })
    if (!params.success) return reply.code(400).send({ error: 'bad key', issues: issuesOf(params.error) })
    const event = await opts.store.getEvent(params.data.key)
    if (event === null) return reply.code(404).send({ error: `unknown event "${params.data.key}"` })
    const { body, ...stored } = event
    return { ...stored, ...asText(body) }
  })

  app.get('/admin/refused', async (request, reply) => {
    const query = pageQuery.safeParse(request.query)
    if (!query.success) return reply.code(400).send({ error: 'bad query', issues: issuesOf(query.error) })
    const { after, limit } = query.data
    const refused = (await opts.store.listRefused({ afterId: after, limit })).map(withTextBody)
    return { refused, next: refused.length === limit ? refused.at(-1)?.id : null }
  })

  app.get('/admin/deliveries', async (request, reply) => {
    const query = listQuery.safeParse(request.query)
    if (!query.success) return reply.code(400).send({ error: 'bad query', issues: issuesOf(query.error) })
    const { status, target, after, limit } = query.data
    const deliveries = await opts.store.listDeliveries({ status, target, afterId: after, limit })
    return { deliveries, next: deliveries.length === limit ? deliveries.at(-1)?.id : null }
  })

  app.get('/admin/deliveries/:id', async (request, reply) => {
    const params = deliveryParams.safeParse(request.params)
    if (!params.success) return reply.code(400).send({ error: 'bad id', issues: issuesOf(params.error) })
    const delivery = await opts.store.getDelivery(params.data.id)
    if (delivery === null) return reply.code(404).send({ error: `unknown delivery ${params.data.id}` })
    return delivery
  })

  app.post('/admin/replay', async (request, reply) => {
    const body = replayBody.safeParse(request.body)
    if (!body.success)
      return reply.code(400).send({ error: 'bad replay request', issues: issuesOf(body.error) })
    const selector = body.data
    if ('target' in selector && !opts.targetNames.includes(selector.target)) {
      return reply.code(404).send({ error: `unknown target "${selector.target}"` })
    }
    if ('event' in selector && (await opts.store.getEvent(selector.event)) === null) {
      return reply.code(404).send({ error: `unknown event "${selector.event}"` })
    }
    const result = await opts.store.replay(
      'event' in selector ? { eventKey: selector.event } : selector,
      opts.now(),
    )
    if (result.replayed > 0) opts.onReplay()
    request.log.info({ ...result, selector }, 'deliveries replayed')
    return result
  })

  // State per configured target: paused (in the store, for every replica) above failing (what
  // this replica's dispatcher sees) above ok; pending counts every delivery not yet finished.
  app.get('/admin/targets', async () => {
    const [paused, counts] = await Promise.all([opts.store.pausedTargets(), opts.store.countDeliveries()])
    const failing = new Set(opts.failingTargets())
    const pending = new Map<string, number>()
    for (const row of counts) if (row.status === 'pending') pending.set(row.target, row.count)
    return {
      targets: opts.targetNames.map((name) => ({
        name,
        state: stateOf(name, paused, failing),
        pausedAt: paused.get(name) ?? null,
        pending: pending.get(name) ?? 0,
      })),
    }
  })

  for (const action of ['pause', 'resume'] as const) {
    app.post(`/admin/targets/:name/${action}`, async (request, reply) => {
      const params = targetParams.safeParse(request.params)
      if (!params.success)
        return reply.code(400).send({ error: 'bad target name', issues: issuesOf(params.error) })
      const { name } = params.data
      if (!opts.targetNames.includes(name)) return reply.code(404).send({ error: `unknown target "${name}"` })
      await opts.store.setPaused(name, action === 'pause', opts.now())
      if (action === 'resume') opts.onResume(name)
      request.log.info({ target: name }, action === 'pause' ? 'target paused' : 'target resumed')
      const paused = await opts.store.pausedTargets()
      return {
        name,
        state: stateOf(name, paused, new Set(opts.failingTargets())),
        pausedAt: paused.get(name) ?? null,
      }
    })
  }

  app.get('/metrics', async (_request, reply) => {
    reply.type(opts.metrics.contentType)
    return opts.metrics.metrics()
  })
}

function stateOf(name: string, paused: Map<string, number>, failing: Set<string>): TargetState {
  if (paused.has(name)) return 'paused'
  return failing.has(name) ? 'failing' : 'ok'
}

function issuesOf(error: z.ZodError) {
  return error.issues.map((issue) => ({ path: issue.path.join('.') || '(root)', message: issue.message }))
}

function withTextBody({ body, ...row }: RefusedRow) {
  if (body === null) return { ...row, body: null, bodyEncoding: null }
  return { ...row, ...asText(body) }
}

/** A body as text when it is UTF-8 (as JSON is), else as base64, so any bytes show. */
function asText(body: Buffer) {
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
  try {
    return { body: text.decode(body), bodyEncoding: 'utf8' as const }
  } catch {
    return { body: body.toString('base64'), bodyEncoding: 'base64' as const }
  }
}
