import type { z } from 'zod'
import { actionDataSchemas, type Envelope, envelopeSchema, isKnownAction } from './schemas.ts'

export interface EventIssue {
  path: string
  message: string
}

export type ParseResult = { ok: true; event: Envelope } | { ok: false; issues: EventIssue[] }

/** Validates a parsed JSON value as a WhatsGate event: the envelope, then a known action's data. */
export function parseEvent(value: unknown): ParseResult {
  const envelope = envelopeSchema.safeParse(value)
  if (!envelope.success) return { ok: false, issues: toIssues(envelope.error, []) }
  const event = envelope.data
  if (isKnownAction(event.event_action)) {
    const data = actionDataSchemas[event.event_action].safeParse(event.event_data)
    if (!data.success) return { ok: false, issues: toIssues(data.error, ['event_data']) }
  }
  return { ok: true, event }
}

/** The outbox key: WhatsGate reuses one `id` across actions, so the id alone is not unique. */
export function eventKey(event: Pick<Envelope, 'whatsapp_id' | 'event_action' | 'id'>): string {
  return `${event.whatsapp_id}:${event.event_action}:${event.id}`
}

/** The message id of a message-bearing event, if it has one. */
export function messageIdOf(event: Envelope): string | null {
  const message = (event.event_data as { message?: { id?: unknown } }).message
  return typeof message?.id === 'string' ? message.id : null
}

function toIssues(error: z.ZodError, prefix: PropertyKey[]): EventIssue[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map(String).join('.') || '(root)',
    message: issue.message,
  }))
}
