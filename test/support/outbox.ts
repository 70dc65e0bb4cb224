// Outbox rows for the store tests: NewEvents as the acceptor builds them, and small readers.
import { expect } from 'vitest'
import type { DeliveryDecision, NewEvent } from '../../src/store/types.ts'

export const SESSION = '191b80a9238'

export function outboxEvent(
  id: number,
  {
    targets = ['a'],
    chat = null,
    jid = null,
    parties = [],
    body,
    session = SESSION,
    date = '2022-09-07 18:29:37',
  }: EventOptions = {},
): NewEvent {
  return {
    key: `${session}:message:${id}`,
    whatsappId: session,
    eventId: String(id),
    action: 'message',
    eventDate: date,
    chat: jid,
    parties,
    headers: null,
    body: body ?? Buffer.from(`{"id":${id}}`),
    deliveries: targets.map((target) => ({ target, orderingKey: chat })),
    issues: [],
  }
}

export interface EventOptions {
  targets?: string[]
  /** The deliveries' ordering key (a lane). */
  chat?: string | null
  /** The event's chat jid, as the acceptor reads it (chatOf). */
  jid?: string | null
  /** Who the event is between, as the acceptor reads them (partiesOf). */
  parties?: string[]
  body?: Buffer
  session?: string
  date?: string
}

export const MINUTE = 60_000

/** Decisions to record (store.record), as the retry policy makes them. */
export const DELIVERED: DeliveryDecision = { kind: 'delivered' }
export const DEAD: DeliveryDecision = { kind: 'dead' }
export const retryAt = (at: number): DeliveryDecision => ({ kind: 'retry', at })

/** Delivery counts in a fixed order (target, then status), to compare whole. */
export function sortCounts<T extends { target: string; status: string }>(counts: T[]): T[] {
  return counts.sort((x, y) => `${x.target} ${x.status}`.localeCompare(`${y.target} ${y.status}`))
}

/** The event key of a session's message event. */
export const eventKey = (id: number, session = SESSION) => `${session}:message:${id}`

export function keysOf(rows: { eventKey: string }[] | undefined): string[] {
  return (rows ?? []).map((row) => row.eventKey)
}

/** What accept answers for an event it wrote, none of its deliveries leased. */
export const stored = (key: string) => ({ key, inserted: true, receivedAt: expect.any(Number), leased: [] })
