// The conditions the relay alerts on, each with an open and a resolved state (docs/alerts.md).

export const CONDITIONS = [
  'session.disconnected',
  'target.failing',
  'target.dead_letters',
  'relay.store',
  'alert.channel_failing',
] as const

export type Condition = (typeof CONDITIONS)[number]

/** One line each, for messages and the dashboard. */
export const CONDITION_TITLES: Record<Condition, string> = {
  'session.disconnected': 'WhatsApp session disconnected',
  'target.failing': 'target failing',
  'target.dead_letters': 'new dead letters',
  'relay.store': 'store refusing writes',
  'alert.channel_failing': 'alert channel failing',
}
