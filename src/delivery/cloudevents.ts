// CloudEvents 1.0 in binary content mode, for targets with `format: "cloudevents"`: the event's
// attributes travel as `ce-*` headers beside the body, which stays WhatsGate's bytes unchanged.
import type { ClaimedDelivery } from '../store/types.ts'
import { headerValue } from './header-value.ts'

/** The attributes the relay sets; a target's own headers cannot override them. */
export const CLOUDEVENT_HEADERS = ['ce-specversion', 'ce-id', 'ce-source', 'ce-type', 'ce-time'] as const

export function cloudEventHeaders(
  delivery: ClaimedDelivery,
): Record<(typeof CLOUDEVENT_HEADERS)[number], string> {
  return {
    'ce-specversion': '1.0',
    // The event key: what the relay deduplicates on, so a repeat has the same id.
    'ce-id': headerValue(delivery.eventKey),
    'ce-source': `urn:whatsgate:session:${encodeURIComponent(delivery.whatsappId)}`,
    'ce-type': `org.whatsgate.${headerValue(delivery.action)}`,
    // When the relay took it: WhatsGate's event_date carries no time zone.
    'ce-time': new Date(delivery.receivedAt).toISOString(),
  }
}
