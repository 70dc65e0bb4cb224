// Which targets receive an event, and in which order lane.
import { type IncomingEvent, messageIdOf } from '../events/index.ts'
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
 * The ordering lane: the chat of a message event (`<fromMe>_<chat jid>_<id>`; in a group the id
 * goes on with `_<participant jid>`, and a jid never holds `_`), or the session itself for
 * session events (ready, disconnect, error, ...) and for any event whose message id is missing or
 * not of that form (a non-conforming event still gets a lane, never an error).
 */
export function chatLane(event: IncomingEvent): string {
  const messageId = messageIdOf(event)
  const chat = messageId?.match(/^(?:true|false)_([^_]+)_./)?.[1]
  return chat ? `${event.whatsapp_id}/${chat}` : event.whatsapp_id
}
