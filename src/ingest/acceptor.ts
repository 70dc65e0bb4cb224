// The accept path shared by the webhook route and backfill: parse once, validate, route,
// store durably. Knows nothing of HTTP.
import type { Target } from '../config/index.ts'
import { routeEvent } from '../delivery/routing.ts'
import { type Envelope, type EventIssue, eventKey, parseEvent } from '../events/index.ts'
import type { IngestStore } from '../store/types.ts'

export type AcceptOutcome =
  | { status: 'accepted' | 'duplicate'; event: Envelope; key: string }
  | { status: 'invalid'; error: string; issues: EventIssue[] }

export interface Acceptor {
  accept(body: Buffer): Promise<AcceptOutcome>
}

export interface AcceptorDeps {
  store: IngestStore
  targets: readonly Target[]
  /** Told which targets got new deliveries once they are committed (wakes the dispatcher). */
  onStored?: (targetNames: string[]) => void
  /** Told every outcome (metrics). */
  onOutcome?: (status: AcceptOutcome['status']) => void
}

export function createAcceptor({ store, targets, onStored, onOutcome }: AcceptorDeps): Acceptor {
  async function accept(body: Buffer): Promise<AcceptOutcome> {
    let value: unknown
    try {
      value = JSON.parse(body.toString('utf8'))
    } catch {
      return { status: 'invalid', error: 'body is not valid JSON', issues: [] }
    }
    const parsed = parseEvent(value)
    if (!parsed.ok) return { status: 'invalid', error: 'not a valid WhatsGate event', issues: parsed.issues }
    const event = parsed.event
    const key = eventKey(event)
    const deliveries = routeEvent(event, targets)
    const [result] = await store.accept([
      {
        key,
        whatsappId: event.whatsapp_id,
        eventId: String(event.id),
        action: event.event_action,
        eventDate: event.event_date,
        body,
        deliveries,
      },
    ])
    if (!result?.inserted) return { status: 'duplicate', event, key }
    if (deliveries.length > 0) onStored?.(deliveries.map((d) => d.target))
    return { status: 'accepted', event, key }
  }

  return {
    async accept(body) {
      const outcome = await accept(body)
      onOutcome?.(outcome.status)
      return outcome
    },
  }
}
