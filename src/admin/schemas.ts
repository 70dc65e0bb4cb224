// The admin API's inputs and answers as zod schemas: routes validate with them and the OpenAPI
// document (GET /admin/openapi.json) is generated from them, so the two cannot drift apart.
import { z } from 'zod'
import { TARGET_TYPES, targetNameSchema } from '../delivery/targets.ts'

export const errorAnswer = z.object({ error: z.string() }).meta({ id: 'Error' })

export const badRequestAnswer = z
  .object({
    error: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })),
  })
  .meta({ id: 'BadRequest', description: 'An input that is not valid; each issue names its field.' })

/** The answers every route may give besides its own 200. */
export const commonAnswers = { 400: badRequestAnswer, 401: errorAnswer }

// int() also bounds a number to a safe integer: what both stores' ids can be.
const cursor = z.coerce.number().int().min(0).describe('The `next` of the previous page')
const limit = z.coerce.number().int().min(1).max(1000).default(100)

// Times as ISO 8601 (`2026-12-02T10:00:00Z`), read as instants.
const instant = z.iso
  .datetime({ offset: true })
  .transform((text) => Date.parse(text))
  .describe('ISO 8601 instant, e.g. 2026-12-02T10:00:00Z')

/** The event key as the store builds it (events/schemas.ts bounds each part). */
export const eventKey = z
  .string()
  .regex(/^[^:\0]{1,128}:[^:\0]{1,64}:[^\0]{1,128}$/, 'must be <whatsapp_id>:<event_action>:<id>')
  .describe('<whatsapp_id>:<event_action>:<id>')

export const pageQuery = z.strictObject({ after: cursor.optional(), limit })

export const eventsQuery = z.strictObject({
  conforming: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional()
    .describe('false: only the events that depart from WhatsGate’s documentation'),
  session: z.string().min(1).optional().describe('The WhatsApp session (whatsapp_id)'),
  action: z.string().min(1).optional().describe('The event_action, e.g. message'),
  chat: z
    .string()
    .min(1)
    .optional()
    .describe('A chat jid (79991234567@c.us, a group’s …@g.us) or a phone number (79991234567)'),
  key: eventKey.optional(),
  from: instant.optional().describe('Received at or after'),
  to: instant.optional().describe('Received before'),
  after: cursor.optional(),
  limit,
})

export const deliveriesQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'dead']).optional(),
  target: z.string().optional(),
  session: z.string().min(1).optional(),
  from: instant.optional().describe('Its event received at or after'),
  to: instant.optional().describe('Its event received before'),
  after: cursor.optional(),
  limit,
})

export const deliveryParams = z.strictObject({ id: z.coerce.number().int().positive() })

// A target name's form: one that cannot be a name is a bad request, one that could be but is not
// configured is unknown (404).
export const targetParams = z.strictObject({ name: targetNameSchema })

export const replayBody = z
  .union([
    z.strictObject({ ids: z.array(z.number().int().positive()).min(1).max(10_000) }),
    z.strictObject({ target: z.string(), status: z.literal('dead') }),
    z.strictObject({ event: eventKey }),
  ])
  .describe('Deliveries by id, every dead one of a target, or every one of an event')

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

/** A body as text when it is UTF-8, else base64 (see asText). */
const textBody = {
  body: z.string(),
  bodyEncoding: z.enum(['utf8', 'base64']),
}

const headersReceived = z
  .record(z.string(), z.string())
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
      headers: z.record(z.string(), z.string()),
      body: z.string().nullable(),
      bodyEncoding: z.enum(['utf8', 'base64']).nullable(),
      bodySize: z.number().int().nullable(),
    }),
  ),
  next: z.number().int().nullable(),
})

export const targetState = z.enum(['ok', 'failing', 'paused'])
/** http, a broker, or a stream its consumers pull. */
const targetType = z.enum(TARGET_TYPES)

export const targetsAnswer = z.object({
  targets: z.array(
    z.object({
      name: z.string(),
      type: targetType,
      state: targetState,
      pausedAt: z.number().int().nullable(),
      pending: z.number().int(),
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
