// The accept path shared by the webhook route and backfill: parse once, check the identity,
// route, store durably. Knows nothing of HTTP. An event is taken on its identity alone; where the
// rest departs from WhatsGate's documentation it is flagged, never refused (docs/architecture.md,
// invariant 5).
import type { Logger } from 'pino'
import type { Dispatcher } from '../delivery/dispatcher.ts'
import { routeEvent } from '../delivery/routing.ts'
import type { Target } from '../delivery/targets.ts'
import {
  chatOf,
  type EventIssue,
  eventDateOf,
  eventKey,
  type IncomingEvent,
  parseEvent,
  partiesOf,
  readJsonBody,
} from '../events/index.ts'
import { type Clock, systemClock } from '../shared/clock.ts'
import { CONFLICTS_KEPT_PER_KEY } from '../store/conflicts.ts'
import type { AcceptResult, ConflictOutcome, IngestStore, NewDelivery } from '../store/types.ts'

export type AcceptOutcome =
  | {
      status: 'accepted' | 'duplicate'
      event: IncomingEvent
      key: string
      /** Where the event departs from WhatsGate's documentation; empty = conforming. */
      issues: EventIssue[]
      /** A duplicate key with a different body: kept beside the stored event, or beyond the limit. */
      conflict?: ConflictOutcome
    }
  | { status: 'invalid'; reason: 'not_json' | 'no_identity'; error: string; issues: EventIssue[] }

export interface Acceptor {
  /** `headers`: those the webhook request came with (headersAsReceived); none for a backfill. */
  accept(body: Buffer, headers?: Readonly<Record<string, string>>): Promise<AcceptOutcome>
}

export interface AcceptorDeps {
  store: IngestStore
  targets: readonly Target[]
  log: Logger
  /** Files an event without a readable event_date under its arrival; real time by default. */
  clock?: Pick<Clock, 'now'>
  /**
   * Sends fresh deliveries without a claim: each asks it for a lease before the commit and, when
   * written leased, is handed over after it (dispatcher.ts). Without it, every delivery is claimed.
   */
  dispatcher?: Pick<Dispatcher, 'leaseFor' | 'handOff' | 'cancelLease'>
  /**
   * Told which targets got new deliveries not handed to the dispatcher, once they are committed
   * (wakes the dispatcher's claims and the streams' consumers).
   */
  onStored?: (targetNames: string[]) => void
  /** Told every outcome (metrics). */
  onOutcome?: (outcome: AcceptOutcome) => void
}

const BOM_ISSUE: EventIssue = { path: '(body)', message: 'starts with a UTF-8 byte-order mark' }

export function createAcceptor({
  store,
  targets,
  log,
  clock = systemClock,
  dispatcher,
  onStored,
  onOutcome,
}: AcceptorDeps): Acceptor {
  async function accept(
    body: Buffer,
    headers: Readonly<Record<string, string>> | null,
  ): Promise<AcceptOutcome> {
    const json = readJsonBody(body)
    if (!json) return { status: 'invalid', reason: 'not_json', error: 'body is not valid JSON', issues: [] }
    const { value, bom } = json
    const parsed = parseEvent(value)
    if (!parsed.ok) {
      return {
        status: 'invalid',
        reason: 'no_identity',
        error: 'not a WhatsGate event: it needs id, whatsapp_id and event_action',
        issues: parsed.issues,
      }
    }
    const { event } = parsed
    const issues = bom ? [BOM_ISSUE, ...parsed.issues] : parsed.issues
    const key = eventKey(event)
    const chat = chatOf(event)
    const deliveries = routeEvent(event, targets, chat)
    if (dispatcher) for (const delivery of deliveries) delivery.lease = dispatcher.leaseFor(delivery.target)
    let result: AcceptResult | undefined
    try {
      ;[result] = await store.accept([
        {
          key,
          whatsappId: event.whatsapp_id,
          eventId: String(event.id),
          action: event.event_action,
          eventDate: eventDateOf(event.event_date, clock.now()),
          chat,
          parties: partiesOf(event, chat),
          headers,
          body,
          deliveries,
          issues,
        },
      ])
    } finally {
      handOver(result, deliveries, { key, event, body })
    }
    if (!result?.inserted) {
      const conflict = result?.conflict
      if (conflict === undefined) return { status: 'duplicate', event, key, issues }
      // The key only: the body holds message text, which is not logged.
      log.warn(
        { event: key, kept: conflict === 'kept' },
        conflict === 'kept'
          ? 'event key stored already with a different body: kept as a conflicting copy'
          : `event key stored already with a different body: not kept, the key has ${CONFLICTS_KEPT_PER_KEY} copies`,
      )
      return { status: 'duplicate', event, key, issues, conflict }
    }
    if (issues.length > 0) {
      // Paths only: a message could name the text it found, and message text is not logged.
      log.warn(
        { event: key, paths: issues.map((issue) => issue.path) },
        "event does not match WhatsGate's documentation; stored and forwarded as it came",
      )
    }
    return { status: 'accepted', event, key, issues }
  }

  /**
   * After the commit (or its failure): what was written leased goes to the dispatcher, body and
   * all; a lease not written is given back; the targets of the rest are woken.
   */
  function handOver(
    result: AcceptResult | undefined,
    deliveries: NewDelivery[],
    { key, event, body }: { key: string; event: IncomingEvent; body: Buffer },
  ): void {
    const leased = new Map(result?.leased?.map((delivery) => [delivery.target, delivery.id]))
    const woken: string[] = []
    for (const { target, lease } of deliveries) {
      const id = leased.get(target)
      if (id !== undefined && dispatcher) {
        dispatcher.handOff({
          id,
          target,
          attempts: 0,
          eventKey: key,
          whatsappId: event.whatsapp_id,
          action: event.event_action,
          body,
          receivedAt: result?.receivedAt ?? clock.now(),
        })
        continue
      }
      if (lease) dispatcher?.cancelLease(target)
      if (result?.inserted) woken.push(target)
    }
    if (woken.length > 0) onStored?.(woken)
  }

  return {
    async accept(body, headers) {
      const outcome = await accept(body, headers ?? null)
      onOutcome?.(outcome)
      return outcome
    },
  }
}
