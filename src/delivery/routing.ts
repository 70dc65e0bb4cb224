// Which targets receive an event, and in which order lane.
import { chatOf, type IncomingEvent } from '../events/index.ts'
import type { NewDelivery } from '../store/types.ts'
import type { Target } from './targets.ts'

export function routeEvent(event: IncomingEvent, targets: readonly Target[]): NewDelivery[] {
  const deliveries: NewDelivery[] = []
  for (const target of targets) {
    if (!targetWants(target, event.event_action, event.whatsapp_id)) continue
    deliveries.push({ target: target.name, orderingKey: target.ordering === 'chat' ? chatLane(event) : null })
  }
  return deliveries
}

/** Routing: does this target want this action from this session? */
export function targetWants(target: Target, action: string, whatsappId: string): boolean {
  const wantsEvent = target.events.includes('*') || target.events.includes(action)
  return wantsEvent && (target.sessions === null || target.sessions.includes(whatsappId))
}

/**
 * The ordering lane: the chat of a message event (events/parse.ts `chatOf`, the same chat the
 * outbox files the event under), or the session itself for session events (ready, disconnect,
 * error, ...) and for any event whose chat cannot be read (a non-conforming event still gets a
 * lane, never an error).
 */
export function chatLane(event: IncomingEvent): string {
  const chat = chatOf(event)
  return chat ? `${event.whatsapp_id}/${chat}` : event.whatsapp_id
}
