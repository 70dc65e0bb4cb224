// Which targets receive an event, and in which order lane.
import { chatOf, type IncomingEvent } from '../events/index.ts'
import type { NewDelivery } from '../store/types.ts'
import type { Target } from './targets.ts'

/** `chat`: the event's chat as the acceptor already read it (chatOf), read once per event. */
export function routeEvent(
  event: IncomingEvent,
  targets: readonly Target[],
  chat: string | null = chatOf(event),
): NewDelivery[] {
  const deliveries: NewDelivery[] = []
  const lane = laneOf(event.whatsapp_id, chat)
  for (const target of targets) {
    if (!targetWants(target, event)) continue
    deliveries.push({ target: target.name, orderingKey: orderingKeyOf(target, lane) })
  }
  return deliveries
}

/**
 * A stream is one lane, whatever the chat: on PostgreSQL a lane's deliveries commit in id order
 * across replicas (postgres-store.ts), so a consumer's position never passes one still to commit.
 */
export const STREAM_LANE = 'stream'

function orderingKeyOf(target: Target, lane: string): string | null {
  if (target.type === 'stream') return STREAM_LANE
  return target.ordering === 'chat' ? lane : null
}

/**
 * Routing: does this target want this action, from this session, and does its content filter
 * (compiled at start; never throws, however the event drifts) pass the event? The filter runs last,
 * and only for a target that has one.
 */
export function targetWants(target: Target, event: IncomingEvent): boolean {
  return routingMiss(target, event) === null
}

/**
 * Why a target does not take an event (the operator's "why not"), or null when it does: its
 * `events` lack the action, its `sessions` the session, or its filter failed at `path`.
 */
export type RoutingMiss = { kind: 'events' } | { kind: 'sessions' } | { kind: 'filter'; path: string }

export function routingMiss(target: Target, event: IncomingEvent): RoutingMiss | null {
  const action = event.event_action
  if (!target.events.includes('*') && !target.events.includes(action)) return { kind: 'events' }
  if (target.sessions !== null && !target.sessions.includes(event.whatsapp_id)) return { kind: 'sessions' }
  const path = target.filter === undefined ? null : target.filter.miss(event)
  return path === null ? null : { kind: 'filter', path }
}

/**
 * The ordering lane: the chat of a message event (events/parse.ts `chatOf`, the same chat the
 * outbox files the event under), or the session itself for session events (ready, disconnect,
 * error, ...) and for any event whose chat cannot be read (a non-conforming event still gets a
 * lane, never an error).
 */
export function chatLane(event: IncomingEvent): string {
  return laneOf(event.whatsapp_id, chatOf(event))
}

function laneOf(whatsappId: string, chat: string | null): string {
  return chat ? `${whatsappId}/${chat}` : whatsappId
}
