// What became of an event at each configured target, as the console shows it: a chip per target in
// the event list, and in its detail, for a target that got no delivery, why not. The reasons come
// from routing itself (delivery/routing.ts routingMiss), never from a copy of its rules.
import { routingMiss } from '../../delivery/routing.ts'
import type { Target } from '../../delivery/targets.ts'
import { type IncomingEvent, isObject, messageOf, readJsonBody } from '../../events/parse.ts'
import type { DeliveryOutcome, DeliveryStatus } from '../../store/types.ts'

export type TargetOutcome = DeliveryOutcome | 'not_routed'

interface DeliveryState {
  target: string
  status: DeliveryStatus
  attempts: number
}

/** A delivery's outcome: pending splits into paused (its target is), retrying (tried) and pending. */
export function outcomeOf(delivery: DeliveryState, paused: ReadonlySet<string>): DeliveryOutcome {
  if (delivery.status !== 'pending') return delivery.status
  if (paused.has(delivery.target)) return 'paused'
  return delivery.attempts > 0 ? 'retrying' : 'pending'
}

/**
 * One chip per configured target, in their configured order (the last delivery of a target, should
 * it have several), then any delivery to a target no longer configured.
 */
export function outcomesOf(
  deliveries: readonly DeliveryState[],
  targets: readonly { name: string }[],
  paused: ReadonlySet<string>,
): { target: string; outcome: TargetOutcome }[] {
  const byTarget = new Map(deliveries.map((delivery) => [delivery.target, delivery]))
  const configured = targets.map(({ name }) => {
    const delivery = byTarget.get(name)
    return { target: name, outcome: delivery ? outcomeOf(delivery, paused) : ('not_routed' as const) }
  })
  const names = new Set(targets.map(({ name }) => name))
  const gone = [...byTarget.values()]
    .filter((delivery) => !names.has(delivery.target))
    .map((delivery) => ({ target: delivery.target, outcome: outcomeOf(delivery, paused) }))
  return [...configured, ...gone]
}

const PREVIEW_CHARACTERS = 60

/**
 * A message-bearing event's type and the first words of its text, for the operator's eyes only:
 * the admin API and the dashboard show it; nothing logs it. Null for other events.
 */
export function previewOf(body: Buffer | undefined): { type: string | null; text: string | null } | null {
  const message = body === undefined ? null : messageOf(readJsonBody(body)?.value)
  if (message === null) return null
  const type = typeof message.type === 'string' ? message.type : null
  const words = typeof message.body === 'string' ? message.body.replace(/\s+/g, ' ').trim() : ''
  return { type, text: words === '' ? null : firstWords(words) }
}

function firstWords(text: string): string {
  const characters = [...text]
  if (characters.length <= PREVIEW_CHARACTERS) return text
  const start = characters.slice(0, PREVIEW_CHARACTERS).join('')
  const cut = start.lastIndexOf(' ')
  return `${cut > PREVIEW_CHARACTERS / 2 ? start.slice(0, cut) : start}…`
}

export interface RoutingReason {
  kind: 'sessions' | 'events' | 'filter' | 'added_later'
  path: string | null
  message: string
}

/**
 * Every configured target: what became of the event there, and for one with no delivery the
 * reason routing gives now. A target that would take the event now and has no delivery of it was
 * added, or its routing changed, after the event came.
 */
export function routingOf(
  stored: { whatsappId: string; action: string; body: Buffer; deliveries: readonly DeliveryState[] },
  targets: readonly Target[],
  paused: ReadonlySet<string>,
): { target: string; outcome: TargetOutcome; reason: RoutingReason | null }[] {
  const value = readJsonBody(stored.body)?.value
  // Routing as the acceptor ran it: the body, with the identity the event was stored under.
  const event = {
    ...(isObject(value) ? value : {}),
    whatsapp_id: stored.whatsappId,
    event_action: stored.action,
  } as IncomingEvent
  const chips = outcomesOf(stored.deliveries, targets, paused)
  return chips.map(({ target: name, outcome }) => {
    const target = targets.find((candidate) => candidate.name === name)
    if (outcome !== 'not_routed' || target === undefined) return { target: name, outcome, reason: null }
    return { target: name, outcome, reason: reasonOf(target, event) }
  })
}

function reasonOf(target: Target, event: IncomingEvent): RoutingReason {
  const miss = routingMiss(target, event)
  if (miss === null) {
    return {
      kind: 'added_later',
      path: null,
      message: 'added, or its routing changed, after the event came: it would take the event now',
    }
  }
  if (miss.kind === 'sessions') {
    return {
      kind: 'sessions',
      path: null,
      message: `its sessions (${target.sessions?.join(', ')}) do not include ${event.whatsapp_id}`,
    }
  }
  if (miss.kind === 'events') {
    return {
      kind: 'events',
      path: null,
      message: `its events (${target.events.join(', ')}) do not include ${event.event_action}`,
    }
  }
  return { kind: 'filter', path: miss.path, message: `its filter did not match at ${miss.path}` }
}
