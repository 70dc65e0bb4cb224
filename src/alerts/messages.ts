// What one message says: the conditions opened, resolved and still open (a reminder) in one round
// of telling, or a test. Composed per channel (each takes the conditions and sessions it picked;
// a channel is never told about its own failure, it could not hear it), stored as JSON with the
// message, and formatted for the channel only when sent (formats.ts).
import type { AlertNotices, AlertRow, NewAlertMessage } from '../store/types.ts'
import { type AlertChannel, channelWants } from './channels.ts'

/** A condition as a message (and GET /admin/alerts) tells it. */
export type AlertItem = Pick<
  AlertRow,
  'condition' | 'subject' | 'session' | 'detail' | 'openedAt' | 'resolvedAt'
>

export interface AlertMessage {
  /** `alert`: conditions told; `test`: POST /admin/alerts/test. */
  kind: 'alert' | 'test'
  /** When it was composed (ms since the epoch). */
  at: number
  opened: AlertItem[]
  resolved: AlertItem[]
  reminded: AlertItem[]
}

export function composeMessages(
  channels: readonly AlertChannel[],
  notices: AlertNotices,
  at: number,
): NewAlertMessage[] {
  const messages: NewAlertMessage[] = []
  for (const channel of channels) {
    const pick = (rows: AlertRow[]) =>
      rows
        .filter((row) => channelWants(channel, row.condition, row.session))
        .filter((row) => !(row.condition === 'alert.channel_failing' && row.subject === channel.name))
        .map(alertItemOf)
    const message: AlertMessage = {
      kind: 'alert',
      at,
      opened: pick(notices.opened),
      resolved: pick(notices.resolved),
      reminded: pick(notices.reminded),
    }
    if (message.opened.length + message.resolved.length + message.reminded.length === 0) continue
    messages.push({ channel: channel.name, body: JSON.stringify(message) })
  }
  return messages
}

export function testMessages(channels: readonly AlertChannel[], at: number): NewAlertMessage[] {
  const message: AlertMessage = { kind: 'test', at, opened: [], resolved: [], reminded: [] }
  return channels.map((channel) => ({ channel: channel.name, body: JSON.stringify(message) }))
}

export function alertItemOf(row: AlertRow): AlertItem {
  return {
    condition: row.condition,
    subject: row.subject,
    session: row.session,
    detail: row.detail,
    openedAt: row.openedAt,
    resolvedAt: row.resolvedAt,
  }
}
