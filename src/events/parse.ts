import type { z } from 'zod'
import {
  actionDataSchemas,
  type EventIdentity,
  envelopeSchema,
  identitySchema,
  isKnownAction,
} from './schemas.ts'

export interface EventIssue {
  path: string
  message: string
}

/**
 * An event the relay takes: its identity, and the rest of the object as it came (of any shape).
 * `event_date` and `event_data` are what the relay reads beyond the identity, so they are named,
 * as unknown: a non-conforming event may carry anything there.
 */
export type IncomingEvent = EventIdentity & { event_date?: unknown; event_data?: unknown }

export type ParseResult =
  /** `issues` lists where the event departs from WhatsGate's documentation; empty = conforming. */
  | { ok: true; event: IncomingEvent; issues: EventIssue[] }
  /** No identity: the relay cannot key, dedupe or answer it. */
  | { ok: false; issues: EventIssue[] }

/**
 * Reads a parsed JSON value as a WhatsGate event. Only the identity (`id`, `whatsapp_id`,
 * `event_action`) is required; the envelope and a known action's data are checked against the
 * documentation, and what differs is reported, not refused.
 */
export function parseEvent(value: unknown): ParseResult {
  // The documented shape first: it holds the identity, so a conforming event is checked once.
  const envelope = envelopeSchema.safeParse(value)
  if (envelope.success) {
    const event = envelope.data
    if (!isKnownAction(event.event_action)) return { ok: true, event, issues: [] }
    const data = actionDataSchemas[event.event_action].safeParse(event.event_data)
    return { ok: true, event, issues: data.success ? [] : toIssues(data.error, ['event_data']) }
  }
  const identity = identitySchema.safeParse(value)
  if (!identity.success) return { ok: false, issues: toIssues(identity.error, []) }
  const event: IncomingEvent = identity.data
  const issues = toIssues(envelope.error, [])
  if (isKnownAction(event.event_action) && isObject(event.event_data)) {
    const data = actionDataSchemas[event.event_action].safeParse(event.event_data)
    if (!data.success) issues.push(...toIssues(data.error, ['event_data']))
  }
  return { ok: true, event, issues }
}

/** The outbox key: WhatsGate reuses one `id` across actions, so the id alone is not unique. */
export function eventKey(event: EventIdentity): string {
  return `${event.whatsapp_id}:${event.event_action}:${event.id}`
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf])

/**
 * A stored or received body as JSON, or undefined when it is not JSON. JSON text must not start
 * with a byte-order mark (RFC 8259), but some senders put one first: it is read past (`bom` says
 * so), and the body keeps it.
 */
export function readJsonBody(body: Buffer): { value: unknown; bom: boolean } | undefined {
  const bom = body.subarray(0, 3).equals(BOM)
  try {
    return { value: JSON.parse(body.toString('utf8', bom ? 3 : 0)), bom }
  } catch {
    return undefined
  }
}

/** The `event_data.message` object of a message-bearing event, if it has one. */
export function messageOf(event: unknown): Record<string, unknown> | null {
  if (!isObject(event) || !isObject(event.event_data)) return null
  const message = event.event_data.message
  return isObject(message) ? message : null
}

/** The message id of a message-bearing event, if it has one. */
export function messageIdOf(event: unknown): string | null {
  const id = messageOf(event)?.id
  return typeof id === 'string' ? id : null
}

// `<fromMe>_<chat jid>_<id>`; in a group the id goes on with `_<participant jid>`, and a jid never
// holds `_`. At most 128 characters and no NUL: the jid is indexed (PostgreSQL refuses an index
// entry over ~2.7 kB) and PostgreSQL text cannot hold a NUL, so an odd id must not make the event
// unstorable.
const CHAT_IN_MESSAGE_ID = /^(?:true|false)_([^_\0]{1,128})_./

/**
 * The chat of a message-bearing event (message, sent, ack, create): the jid its message id names,
 * e.g. `79991234567@c.us` or a group's `120363025246125888@g.us`. Null for session events (ready,
 * disconnect, error, ...) and when the message id is missing or not of that form; never throws,
 * whatever the body. `from` and `to` are not read: WhatsGate's own examples put the chat on
 * either side, while the id is what `get-messagemedia` takes.
 */
export function chatOf(event: unknown): string | null {
  const id = messageIdOf(event)
  return id === null ? null : (CHAT_IN_MESSAGE_ID.exec(id)?.[1] ?? null)
}

/**
 * The chat a filter value names: a jid as given, or a phone number (digits, a leading `+`
 * allowed) as its one-to-one chat `<digits>@c.us`.
 */
export function chatOfFilter(value: string): string {
  return /^\+?\d+$/.test(value) ? `${value.replace(/^\+/, '')}@c.us` : value
}

/** The message text of a message-bearing event, if it has one (logged only when asked). */
export function messageTextOf(event: IncomingEvent): unknown {
  return messageOf(event)?.body
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function toIssues(error: z.ZodError, prefix: PropertyKey[]): EventIssue[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map(String).join('.') || '(root)',
    message: issue.message,
  }))
}
