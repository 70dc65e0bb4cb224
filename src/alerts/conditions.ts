// The conditions the relay alerts on, each with an open and a resolved state (docs/alerts.md).

export const CONDITIONS = [
  'session.disconnected',
  'session.error',
  'session.silent',
  'session.unregistered',
  'target.failing',
  'target.dead_letters',
  'target.backlog',
  'target.breaker',
  'stream.no_consumer',
  'relay.store',
  'relay.refusals',
  'alert.channel_failing',
] as const

export type Condition = (typeof CONDITIONS)[number]

/** One line each, for messages and the dashboard. */
export const CONDITION_TITLES: Record<Condition, string> = {
  'session.disconnected': 'WhatsApp session disconnected',
  'session.error': 'WhatsApp session reporting errors',
  'session.silent': 'WhatsApp session silent',
  'session.unregistered': 'WhatsGate callback not set',
  'target.failing': 'target failing',
  'target.dead_letters': 'new dead letters',
  'target.backlog': 'events waiting too long',
  'target.breaker': 'target paused by the circuit breaker',
  'stream.no_consumer': 'stream without a consumer',
  'relay.store': 'store refusing writes',
  'relay.refusals': 'webhook requests refused',
  'alert.channel_failing': 'alert channel failing',
}
