// The admin API's inputs and answers as zod schemas: routes validate with them and the OpenAPI
// document (GET /admin/openapi.json) is generated from them, so the two cannot drift apart.
import { z } from 'zod'
import { TARGET_TYPES, targetNameSchema } from '../delivery/targets.ts'
import { partyOf } from '../events/parties.ts'
import type { AttemptErrorClass, DeadLetterFilter, ReplaySelector } from '../store/types.ts'

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
const SELECTORS = ['ids', 'target', 'event', 'dead'] as const

const ERROR_CLASSES = ['http', 'timeout', 'connection', 'media'] as const

/** Dead letters to act on, in a JSON body: every condition given must hold. */
export const deadLetterBodyFilter = z
  .strictObject({
    target: targetNameSchema.optional(),
    session: boundedText(128).optional().describe('The WhatsApp session (whatsapp_id)'),
    chat: boundedText(128).optional().describe('A chat jid, or a phone number for its one-to-one chat'),
    from: instant.optional().describe('Its event received at or after'),
    to: instant.optional().describe('Its event received before'),
    status: z
      .number('must be an HTTP status or null')
      .int('must be an HTTP status or null')
      .min(100, 'must be an HTTP status or null')
      .max(599, 'must be an HTTP status or null')
      .nullable()
      .optional()
      .describe('The last attempt’s HTTP status; null: no answer came'),
    errorClass: z
      .enum(ERROR_CLASSES, 'must be http, timeout, connection or media (or null)')
      .nullable()
      .optional()
      .describe('The last attempt’s error class; null: not known'),
    upTo: z
      .number(ID_RANGE)
      .int(ID_RANGE)
      .min(1, ID_RANGE)
      .optional()
      .describe(
        'Delivery ids up to this one only: the `upTo` of a dry run, so no more is replayed than counted',
      ),
  })
  // All the dead letters of every target at once is rarely meant: a condition says which.
  .refine((given) => Object.keys(given).length > 0, 'give at least one condition (upTo counts)')
  .transform(toDeadLetterFilter)
  .describe('Dead letters (not discarded) matching every condition given')

function toDeadLetterFilter(given: DeadLetterQueryFields & { upTo?: number | undefined }): DeadLetterFilter {
  const filter: DeadLetterFilter = {}
  if (given.target !== undefined) filter.target = given.target
  if (given.session !== undefined) filter.whatsappId = given.session
  if (given.chat !== undefined) filter.chat = given.chat
  if (given.from !== undefined) filter.receivedFrom = given.from
  if (given.to !== undefined) filter.receivedBefore = given.to
  if (given.status !== undefined) filter.lastStatus = given.status
  if (given.errorClass !== undefined) filter.errorClass = given.errorClass
  if (given.upTo !== undefined) filter.upTo = given.upTo
  return filter
}

/** The delivery ids a replay or a discard names: at least one, at most MAX_REPLAY_IDS. */
const deliveryIds = (action: 'replay' | 'discard') =>
  z
    .array(z.number(ID_RANGE).int(ID_RANGE).min(1, ID_RANGE), 'must be an array of delivery ids')
    .min(1, 'give at least one id')
    .max(MAX_REPLAY_IDS, `at most ${MAX_REPLAY_IDS} ids per ${action}`)

// One object rather than a union: a union can only say "Invalid input" of the whole body, where
// this names the field at fault (and the cap, for too many ids).
export const replayBody = z
  .strictObject(
    {
      ids: deliveryIds('replay').optional().describe('These deliveries (discarded ones too)'),
      target: targetNameSchema
        .optional()
        .describe('With status "dead": every dead delivery of this target, the discarded left out'),
      status: z.literal('dead', 'must be "dead"').optional(),
      event: eventKey
        .optional()
        .describe('Every finished delivery of this event; with status "dead", its dead ones only'),
      dead: deadLetterBodyFilter.optional(),
      dryRun: z
        .boolean('must be true or false')
        .optional()
        .describe('With target or dead: count what would be replayed, and replay nothing'),
    },
    { error: (issue) => (issue.code === 'invalid_type' ? 'must be a JSON object' : undefined) },
  )
  .superRefine((body, ctx) => {
    const given = SELECTORS.filter((field) => body[field] !== undefined)
    if (given.length !== 1) {
      const message = 'give exactly one of ids, target (with status "dead"), event or dead'
      ctx.addIssue({ code: 'custom', path: [], message })
    }
    if (body.target !== undefined && body.status === undefined) {
      ctx.addIssue({ code: 'custom', path: ['status'], message: 'goes with target, and must be "dead"' })
    }
    if (body.status !== undefined && body.target === undefined && body.event === undefined) {
      ctx.addIssue({ code: 'custom', path: ['status'], message: 'goes with target or event' })
    }
    if (body.dryRun && body.target === undefined && body.dead === undefined) {
      ctx.addIssue({ code: 'custom', path: ['dryRun'], message: 'goes with target or dead' })
    }
  })
  .transform(
    ({ ids, target, event, status, dead, dryRun }): { selector: ReplaySelector; dryRun: boolean } => {
      const dry = dryRun === true
      if (ids !== undefined) return { selector: { ids }, dryRun: dry }
      if (event !== undefined) {
        return { selector: status ? { eventKey: event, status } : { eventKey: event }, dryRun: dry }
      }
      if (dead !== undefined) return { selector: { dead }, dryRun: dry }
      return { selector: { target: target ?? '', status: 'dead' }, dryRun: dry }
    },
  )
  .describe(
    'Deliveries by id, every dead one of a target, the finished (or dead) ones of an event, or the dead letters a filter matches: exactly one',
  )

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
    replay: z
      .number()
      .int()
      .describe('0: the first schedule (its first try and retries); n: an attempt after the n-th replay'),
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

export const eventAnswer = eventRow
  .extend({
    headers: headersReceived,
    ...textBody,
    deliveries: z.array(deliveryDetail),
    conflicts: z.array(conflictRow).describe('Copies that came later with a different body, oldest first'),
  })
  .meta({ id: 'EventDetail' })
export const deliveryAnswer = deliveryDetail
export const replayAnswer = z.object({
  replayed: z.number().int().describe('0 for a dry run'),
  matched: z.number().int().optional().describe('A dry run: how many it would replay'),
  upTo: z
    .number()
    .int()
    .nullable()
    .optional()
    .describe('A dry run: the highest id it counted; give it back as dead.upTo to replay exactly those'),
  warnings: z
    .array(z.string())
    .optional()
    .describe('Targets of the replay still failing or paused: what is replayed may die again, or wait'),
})

const refusedAnswer = z.object({
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
  failing: z
    .boolean()
    .describe(
      "this replica's recent attempts at it fail, even with nothing left to retry (a replay may die again)",
    ),
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
  replicas: z
    .array(
      z.object({
        id: z.string().describe("Its dispatcher's lease owner id, as attempts name it"),
        startedAt: z.number().int().describe('ms since the epoch'),
        lastBeatAt: z.number().int().describe('ms since the epoch'),
        alive: z.boolean().describe('Beat within REPLICA_DEAD_AFTER_SECONDS and not found dead since'),
        current: z.boolean().describe('The replica answering'),
      }),
    )
    .describe('The replicas dispatching from the store, by their heartbeats (on SQLite: this process)'),
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

const alertCondition = z.object({
  condition: z.string(),
  subject: z.string().describe("A session id, a target or channel name; '' for the relay itself"),
  session: z.string().nullable(),
  detail: z.string(),
  openedAt: z.number().int(),
  resolvedAt: z.number().int().nullable(),
  told: z.boolean().describe('Its opening (and resolution, once resolved) went into a message'),
})

export const alertsAnswer = z.object({
  open: z.array(alertCondition),
  recent: z.array(alertCondition).describe('Resolved within the last 24 hours, newest first'),
  channels: z.array(
    z.object({
      name: z.string(),
      format: z.enum(['json', 'slack', 'discord', 'telegram', 'email']),
      destination: z.string().describe('Where it goes, without its secrets'),
      conditions: z.array(z.string()).nullable(),
      sessions: z.array(z.string()).nullable(),
      quietHours: z.string().nullable().describe('HH:MM-HH:MM in its time zone, while its messages wait'),
      pending: z.number().int().describe('Messages waiting for it'),
      lastError: z.string().nullable(),
    }),
  ),
  sessions: z
    .array(
      z.object({
        whatsappId: z.string(),
        state: z.enum(['ok', 'disconnected', 'silent', 'error', 'unregistered']),
        lastEventAt: z.number().int().nullable(),
      }),
    )
    .describe('Each session the relay has had an event from, with its worst open condition'),
  messages: z.array(
    z.object({
      id: z.number().int(),
      channel: z.string(),
      status: z.enum(['pending', 'delivered']),
      attempts: z.number().int(),
      createdAt: z.number().int(),
      deliveredAt: z.number().int().nullable(),
      lastError: z.string().nullable(),
    }),
  ),
})

export const alertTestAnswer = z.object({
  queued: z.number().int().describe('Test messages queued, one per channel'),
})

// Lists newest first (events, deliveries, refused requests): `before` pages to older rows, `after`
// to newer ones; each answer gives both cursors. Events also say, row by row, what became of them.
const olderCursor = wholeNumber(0).describe('The `older` of a page: the rows received before it')
const newerCursor = wholeNumber(0).describe('The `newer` of a page: the rows received after it')
const bothWays = {
  before: olderCursor.optional(),
  after: newerCursor.optional(),
}
const oneWay = (query: { before?: number | undefined; after?: number | undefined }) =>
  query.before === undefined || query.after === undefined
const ONE_WAY = { message: 'give before or after, not both', path: ['after'] }
const pageCursors = {
  older: z.number().int().nullable().describe('Pass as `before` for the next older page; null: none older'),
  newer: z
    .number()
    .int()
    .nullable()
    .describe('Pass as `after` for the next newer page; null: this is the newest'),
}

export const DELIVERY_OUTCOMES = ['delivered', 'pending', 'retrying', 'paused', 'dead'] as const
const outcomeChip = z
  .object({
    target: z.string(),
    outcome: z.enum([...DELIVERY_OUTCOMES, 'not_routed']),
  })
  .meta({ id: 'TargetOutcome' })

export const eventListQuery = eventsQuery
  .extend({
    ...bothWays,
    outcome: z
      .enum(DELIVERY_OUTCOMES, `must be one of ${DELIVERY_OUTCOMES.join(', ')}`)
      .optional()
      .describe('Events with a delivery of this outcome (to `target` when given)'),
    target: targetNameSchema.optional().describe('Events with a delivery to this target'),
  })
  .refine(oneWay, ONE_WAY)

const eventListRow = eventRow
  .extend({
    outcomes: z.array(outcomeChip).describe('Every configured target, and what became of the event there'),
    preview: z
      .object({
        type: z.string().nullable(),
        text: z.string().nullable().describe('The first words of the message text'),
      })
      .nullable()
      .describe('For a message-bearing event: its type and the start of its text'),
  })
  .meta({ id: 'EventListed' })

export const eventListAnswer = z.object({ events: z.array(eventListRow), ...pageCursors })

const routingReason = z
  .object({
    kind: z.enum(['sessions', 'events', 'filter', 'added_later']),
    path: z.string().nullable().describe('For `filter`: the path whose condition failed'),
    message: z.string(),
  })
  .meta({ id: 'RoutingReason' })

export const eventDetailAnswer = eventAnswer
  .extend({
    routing: z
      .array(
        z.object({
          target: z.string(),
          outcome: outcomeChip.shape.outcome,
          reason: routingReason.nullable().describe('Why a target got no delivery; null when it got one'),
        }),
      )
      .describe('Every configured target: what became of the event there, or why it got none'),
  })
  .meta({ id: 'EventDetailRouted' })

export const deliveryListQuery = deliveriesQuery.extend(bothWays).refine(oneWay, ONE_WAY)
export const deliveryListAnswer = z.object({ deliveries: z.array(deliveryRow), ...pageCursors })

export const refusedListQuery = pageQuery.extend(bothWays).refine(oneWay, ONE_WAY)
export const refusedListAnswer = refusedAnswer.omit({ next: true }).extend(pageCursors)

// Dead-letter triage (routes/dead-letters.ts) and the audit log (routes/audit.ts).

/** Dead letters in a query string: every condition given must hold. */
const deadLetterQueryFields = {
  target: targetNameSchema.optional(),
  session: boundedText(128).optional().describe('The WhatsApp session (whatsapp_id)'),
  chat: boundedText(128).optional().describe('A chat jid, or a phone number for its one-to-one chat'),
  from: instant.optional().describe('Its event received at or after'),
  to: instant.optional().describe('Its event received before'),
  status: z
    .string()
    .regex(/^([1-5]\d\d|none)$/, 'must be an HTTP status or none')
    .transform((text) => (text === 'none' ? null : Number(text)))
    .optional()
    .describe('The last attempt’s HTTP status; none: no answer came'),
  errorClass: z
    .enum([...ERROR_CLASSES, 'unknown'], 'must be http, timeout, connection, media or unknown')
    .transform((text) => (text === 'unknown' ? null : text))
    .optional()
    .describe('The last attempt’s error class'),
}

type DeadLetterQueryFields = {
  target?: string | undefined
  session?: string | undefined
  chat?: string | undefined
  from?: number | undefined
  to?: number | undefined
  status?: number | null | undefined
  errorClass?: AttemptErrorClass | null | undefined
}

/** The store's filter of a dead-letter query string. */
export function deadLetterFilterOf(query: DeadLetterQueryFields): DeadLetterFilter {
  return toDeadLetterFilter(query)
}

export const deadLetterGroupsQuery = z.strictObject(deadLetterQueryFields)

export const deadLettersQuery = z.strictObject({
  ...deadLetterQueryFields,
  discarded: z
    .enum(['true', 'false'], 'must be true or false')
    .transform((value) => value === 'true')
    .optional()
    .describe('true: the discarded ones only (by default, those not discarded)'),
  before: cursor.optional().describe('The `next` of the previous (newer) page'),
  limit,
})

const errorClassOrNull = z.enum(ERROR_CLASSES).nullable()

export const deadLetterGroupsAnswer = z.object({
  groups: z.array(
    z
      .object({
        target: z.string(),
        lastStatus: z.number().int().nullable().describe('null: no answer came'),
        errorClass: errorClassOrNull.describe('null: not known'),
        count: z.number().int().describe('Not discarded: what a replay of the group sends'),
        discarded: z.number().int(),
        newestAt: z.number().int().describe('When the newest died (ms since the epoch)'),
        oldestAt: z.number().int(),
      })
      .meta({ id: 'DeadLetterGroup' }),
  ),
  total: z.number().int().describe('Dead letters not discarded, over every group'),
  discarded: z.number().int(),
})

export const deadLettersAnswer = z.object({
  deadLetters: z.array(
    deliveryRow
      .extend({
        chat: z.string().nullable(),
        errorClass: errorClassOrNull,
        replays: z.number().int().describe('How often it was replayed before'),
        discardedAt: z.number().int().nullable(),
        discardReason: z.string().nullable(),
        discardedBy: z.string().nullable().describe('Who discarded it: a dashboard session, or a token'),
      })
      .meta({ id: 'DeadLetter' }),
  ),
  next: z.number().int().nullable().describe('The cursor of the next (older) page; null after the last'),
})

export const discardBody = z
  .strictObject(
    {
      ids: deliveryIds('discard').optional(),
      dead: deadLetterBodyFilter.optional(),
      reason: z
        .string('must be text')
        .trim()
        .min(1, 'say why: 1 to 500 characters')
        .max(500, 'say why: 1 to 500 characters'),
    },
    { error: (issue) => (issue.code === 'invalid_type' ? 'must be a JSON object' : undefined) },
  )
  .superRefine((body, ctx) => {
    if ((body.ids === undefined) === (body.dead === undefined)) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of ids or dead' })
    }
  })
  .describe('Dead letters to discard (kept, marked, left out of every replay but one by id), and why')

export const discardAnswer = z.object({ discarded: z.number().int() })

export const auditQuery = z.strictObject({
  before: cursor.optional().describe('The `next` of the previous (newer) page'),
  limit,
})

export const auditAnswer = z.object({
  entries: z.array(
    z
      .object({
        id: z.number().int(),
        at: z.number().int().describe('ms since the epoch'),
        action: z.enum(['replay', 'discard', 'pause', 'resume']),
        via: z.enum(['api', 'cli', 'dashboard']).describe('dashboard: a signed-in browser; cli: the CLI'),
        role: z.enum(['admin', 'viewer']),
        session: z.string().nullable().describe('The dashboard session; null for a bearer token'),
        subject: z.string().describe('A target, or what was selected, in words'),
        count: z.number().int().nullable().describe('Deliveries changed; null for a pause or a resume'),
        reason: z.string().nullable(),
      })
      .meta({ id: 'AuditEntry' }),
  ),
  next: z.number().int().nullable().describe('The cursor of the next (older) page; null after the last'),
})

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
