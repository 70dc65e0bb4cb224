// The admin API's inputs and answers as zod schemas: routes validate with them and the OpenAPI
// document (GET /admin/openapi.json) is generated from them, so the two cannot drift apart.
import { z } from 'zod'
import { TARGET_TYPES, targetNameSchema } from '../delivery/targets.ts'
import { partyOf } from '../events/parties.ts'
import type { AdminStore } from '../store/types.ts'

type ReplaySelector = Parameters<AdminStore['replay']>[0]

export const errorAnswer = z.object({ error: z.string() }).meta({ id: 'Error' })

export const badRequestAnswer = z
  .object({
    error: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })),
  })
  .meta({ id: 'BadRequest', description: 'An input that is not valid; each issue names its field.' })

/** The answers every route may give besides its own 200. */
export const commonAnswers = { 400: badRequestAnswer, 401: errorAnswer }

// Numbers from the URL come as text. A whole number up to 2^53 - 1 is what both stores' ids can be.
function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER) {
  const range = `must be a whole number from ${min} to ${max}`
  return z.coerce.number({ error: range }).int({ error: range }).min(min, range).max(max, range)
}

const cursor = wholeNumber(0).describe('The `next` of the previous page')
const limit = wholeNumber(1, 1000).default(100)

/** A text filter: a session or an action bounded as events/schemas.ts bounds them; a chat jid is far shorter. */
function boundedText(max: number) {
  return z.string().min(1, `must be 1 to ${max} characters`).max(max, `must be 1 to ${max} characters`)
}

// Times as ISO 8601 (`2026-12-02T10:00:00Z`), read as instants.
const instant = z.iso
  .datetime({ offset: true, error: 'must be an ISO 8601 instant, e.g. 2026-12-02T10:00:00Z' })
  .transform((text) => Date.parse(text))
  .describe('ISO 8601 instant, e.g. 2026-12-02T10:00:00Z')

/** The event key as the store builds it (events/schemas.ts bounds each part). */
export const eventKey = z
  .string()
  .regex(
    /^[^:\0]{1,128}:[^:\0]{1,64}:[^\0]{1,128}$/,
    'must be <whatsapp_id>:<event_action>:<id>, at most 128, 64 and 128 characters',
  )
  .describe('<whatsapp_id>:<event_action>:<id>')

export const pageQuery = z.strictObject({ after: cursor.optional(), limit })

export const eventsQuery = z.strictObject({
  conforming: z
    .enum(['true', 'false'], 'must be true or false')
    .transform((value) => value === 'true')
    .optional()
    .describe('false: only the events that depart from WhatsGate’s documentation'),
  session: boundedText(128).optional().describe('The WhatsApp session (whatsapp_id)'),
  action: boundedText(64).optional().describe('The event_action, e.g. message'),
  chat: boundedText(128)
    .optional()
    .describe(
      'The chat only: its jid (79991234567@c.us, a group’s …@g.us) or a phone number (79991234567); `party` finds a number as sender or recipient too',
    ),
  party: boundedText(128)
    .refine((value) => partyOf(value) !== null, 'must be a phone number or a jid')
    .optional()
    .describe(
      'A phone number in any written form (79991234567, +7 999 123-45-67) or a jid (79991234567@c.us, a group’s …@g.us): the events it is the chat, sender, recipient or group participant of',
    ),
  key: eventKey.optional(),
  from: instant.optional().describe('Received at or after'),
  to: instant.optional().describe('Received before'),
  after: cursor.optional(),
  limit,
})

export const deliveriesQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'dead'], 'must be pending, delivered or dead').optional(),
  target: targetNameSchema.optional(),
  session: boundedText(128).optional(),
  from: instant.optional().describe('Its event received at or after'),
  to: instant.optional().describe('Its event received before'),
  after: cursor.optional(),
  limit,
})

export const deliveryParams = z.strictObject({ id: wholeNumber(1) })

// A target name's form: one that cannot be a name is a bad request, one that could be but is not
// configured is unknown (404).
export const targetParams = z.strictObject({ name: targetNameSchema })

export const MAX_REPLAY_IDS = 10_000
const ID_RANGE = `must be a whole number from 1 to ${Number.MAX_SAFE_INTEGER}`
const SELECTORS = ['ids', 'target', 'event'] as const

// One object rather than a union of three: a union can only say "Invalid input" of the whole body,
// where this names the field at fault (and the cap, for too many ids).
export const replayBody = z
  .strictObject(
    {
      ids: z
        .array(z.number(ID_RANGE).int(ID_RANGE).min(1, ID_RANGE), 'must be an array of delivery ids')
        .min(1, 'give at least one id')
        .max(MAX_REPLAY_IDS, `at most ${MAX_REPLAY_IDS} ids per replay`)
        .optional()
        .describe('These deliveries'),
      target: targetNameSchema.optional().describe('With status "dead": every dead delivery of this target'),
      status: z.literal('dead', 'must be "dead"').optional(),
      event: eventKey.optional().describe('Every delivery of this event'),
    },
    { error: (issue) => (issue.code === 'invalid_type' ? 'must be a JSON object' : undefined) },
  )
  .superRefine((body, ctx) => {
    const given = SELECTORS.filter((field) => body[field] !== undefined)
    if (given.length !== 1) {
      const message = 'give exactly one of ids, target (with status "dead") or event'
      ctx.addIssue({ code: 'custom', path: [], message })
    }
    if ((body.target === undefined) !== (body.status === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['status'], message: 'goes with target, and must be "dead"' })
    }
  })
  .transform(({ ids, target, event }): ReplaySelector => {
    if (ids !== undefined) return { ids }
    if (event !== undefined) return { eventKey: event }
    return { target: target ?? '', status: 'dead' }
  })
  .describe('Deliveries by id, every dead one of a target, or every one of an event: exactly one')

const schemaIssue = z.object({ path: z.string(), message: z.string() })

const eventRow = z
  .object({
    seq: z.number().int(),
    key: z.string(),
    whatsappId: z.string(),
    eventId: z.string(),
    action: z.string(),
    eventDate: z.string(),
    chat: z.string().nullable(),
    receivedAt: z.number().int().describe('ms since the epoch'),
    issues: z.array(schemaIssue).nullable().describe('null: the event conforms to the documentation'),
  })
  .meta({ id: 'Event' })

const deliveryRow = z
  .object({
    id: z.number().int(),
    target: z.string(),
    status: z.enum(['pending', 'delivered', 'dead']),
    eventKey: z.string(),
    whatsappId: z.string(),
    action: z.string(),
    attempts: z.number().int(),
    nextAttemptAt: z.number().int(),
    lastStatus: z.number().int().nullable(),
    lastError: z.string().nullable(),
    receivedAt: z.number().int(),
    finishedAt: z.number().int().nullable(),
  })
  .meta({ id: 'Delivery' })

const attemptRow = z
  .object({
    id: z.number().int(),
    deliveryId: z.number().int(),
    startedAt: z.number().int(),
    durationMs: z.number(),
    status: z
      .number()
      .int()
      .nullable()
      .describe('The HTTP status; null when no answer came, or for a broker'),
    errorClass: z.enum(['http', 'timeout', 'connection', 'media']).nullable(),
    error: z.string().nullable(),
    responseExcerpt: z.string().nullable().describe('The first 1 KiB of the answer, as text'),
    replica: z.string().describe('The dispatcher that made the attempt'),
  })
  .meta({ id: 'Attempt' })

const deliveryDetail = deliveryRow.extend({ history: z.array(attemptRow) }).meta({ id: 'DeliveryDetail' })

/**
 * The headers a webhook request came with, names as the sender chose them. Not z.record: it
 * rebuilds the object and drops a key named `__proto__`; this checks the object and passes it on
 * as it is, documented as the string map it is.
 */
const receivedHeaders = z
  .custom<Record<string, string>>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      Object.values(value).every((header) => typeof header === 'string'),
  )
  .meta({ type: 'object', additionalProperties: { type: 'string' } })

/** A body as text when it is UTF-8, else base64 (see asText). */
const textBody = {
  body: z.string(),
  bodyEncoding: z.enum(['utf8', 'base64']),
}

const headersReceived = receivedHeaders
  .nullable()
  .describe('The headers the webhook request came with, credentials redacted; null for a backfill')

const conflictRow = z
  .object({
    id: z.number().int(),
    eventKey: z.string(),
    receivedAt: z.number().int().describe('ms since the epoch'),
    headers: headersReceived,
    ...textBody,
  })
  .meta({
    id: 'Conflict',
    description: 'A copy that came under a stored event’s key with a different body, kept beside it',
  })

export const conflictsAnswer = z.object({
  conflicts: z.array(conflictRow),
  next: z.number().int().nullable().describe('The cursor of the next (older) page; null after the last'),
})

export const eventsAnswer = z.object({ events: z.array(eventRow), next: z.number().int().nullable() })
export const eventAnswer = eventRow
  .extend({
    headers: headersReceived,
    ...textBody,
    deliveries: z.array(deliveryDetail),
    conflicts: z.array(conflictRow).describe('Copies that came later with a different body, oldest first'),
  })
  .meta({ id: 'EventDetail' })
export const deliveriesAnswer = z.object({
  deliveries: z.array(deliveryRow),
  next: z.number().int().nullable(),
})
export const deliveryAnswer = deliveryDetail
export const replayAnswer = z.object({ replayed: z.number().int() })

export const refusedAnswer = z.object({
  refused: z.array(
    z.object({
      id: z.number().int(),
      receivedAt: z.number().int(),
      reason: z.string(),
      status: z.number().int(),
      headers: receivedHeaders,
      body: z.string().nullable(),
      bodyEncoding: z.enum(['utf8', 'base64']).nullable(),
      bodySize: z.number().int().nullable(),
    }),
  ),
  next: z.number().int().nullable(),
})

export const targetState = z
  .enum(['ok', 'failing', 'paused', 'dead_letters', 'no_consumer'])
  .describe('admin/routes/target-state.ts decides it; stateText says it with its count')
/** http, a broker, or a stream its consumers pull. */
const targetType = z.enum(TARGET_TYPES)

/** What happened to a target's deliveries in a stretch of time. */
const outcomeCounts = z.object({
  delivered: z.number().int(),
  failed: z.number().int().describe('attempts that failed'),
  dead: z.number().int(),
})

/** A target's configuration (no credential) and what is true of it now. */
const targetTruth = {
  stateText: z.string().describe('the state in words, with its count: "dead letters: 160"'),
  url: z.string().describe('without user, password or secret-looking query values'),
  events: z.array(z.string()),
  sessions: z.array(z.string()).nullable().describe('null: every session'),
  filter: z.unknown().describe('the content filter as configured; null: none'),
  retry: z
    .object({
      maxAttempts: z.number().int(),
      maxAgeMs: z.number().int().nullable(),
      initialDelayMs: z.number().int(),
      maxDelayMs: z.number().int(),
    })
    .nullable()
    .describe('null for a stream: its consumers pull'),
  concurrency: z
    .object({ now: z.number().int().nullable(), cap: z.number().int() })
    .nullable()
    .describe("sends at once: this replica's adaptive limit now, and the configured cap"),
  ordering: z.enum(['none', 'chat']),
  signed: z.boolean().describe('Standard Webhooks signatures with a secret of its own'),
  dead: z.number().int(),
  oldestPendingAgeSeconds: z.number().int().nullable(),
  consumers: z.number().int().nullable().describe("a stream's consumers connected to this replica"),
  lastHour: outcomeCounts,
  lastDay: outcomeCounts,
}

export const targetsAnswer = z.object({
  targets: z.array(
    z.object({
      name: z.string(),
      type: targetType,
      state: targetState,
      pausedAt: z.number().int().nullable(),
      pending: z.number().int(),
      ...targetTruth,
    }),
  ),
})

export const pauseAnswer = z.object({
  name: z.string(),
  state: targetState,
  pausedAt: z.number().int().nullable(),
})

export const statusAnswer = z.object({
  version: z.string(),
  uptimeSeconds: z.number().int(),
  store: z.object({ kind: z.enum(['sqlite', 'postgres']), healthy: z.boolean() }),
  targets: z.array(
    z.object({
      name: z.string(),
      type: targetType,
      state: targetState,
      pending: z.number().int(),
      oldestPendingAgeSeconds: z.number().int().nullable(),
      stateText: z.string(),
      dead: z.number().int(),
    }),
  ),
  registration: z
    .object({
      state: z.enum(['idle', 'running', 'done', 'stopped']),
      discovery: z.enum(['explicit', 'pending', 'done', 'failed']),
      unauthorized: z.boolean(),
      error: z.string().optional(),
      sessions: z.array(
        z.object({
          whatsappId: z.string(),
          outcome: z.enum(['pending', 'registered', 'already', 'failed']),
          error: z.string().optional(),
          attempts: z.number().int(),
        }),
      ),
    })
    .nullable()
    .describe('WhatsGate registration per session; null without an API key or PUBLIC_URL'),
  eventsReceived: z.object({ lastMinute: z.number().int(), lastHour: z.number().int() }),
})

/** A body as text when it is UTF-8 (as JSON is), else as base64, so any bytes show. */
export function asText(body: Buffer) {
  const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
  try {
    return { body: text.decode(body), bodyEncoding: 'utf8' as const }
  } catch {
    return { body: body.toString('base64'), bodyEncoding: 'base64' as const }
  }
}

export const statsQuery = z.strictObject({
  range: z.enum(['hour', 'day']).default('hour').describe('hour: per minute; day: per hour'),
})

const trafficCounts = z.object({
  received: z.number().int(),
  delivered: z.number().int(),
  failed: z.number().int().describe('attempts that failed'),
  dead: z.number().int(),
})

export const statsAnswer = z.object({
  range: z.enum(['hour', 'day']),
  bucketSeconds: z.number().int(),
  /** Every bucket of the range, oldest first, the current one last. */
  buckets: z.array(trafficCounts.extend({ at: z.number().int() })),
  totals: trafficCounts,
  backlog: z.number().int().describe('deliveries pending now'),
  deadLetters: z.number().int(),
  lastEventAt: z.number().int().nullable(),
  sessions: z.array(z.object({ whatsappId: z.string(), lastEventAt: z.number().int() })),
})
