// `whatsgate-relay alerts`: what is open, what resolved lately, each channel and what waits for
// it (GET /admin/alerts); `--test` sends a test message to every channel (POST /admin/alerts/test).
import type { AdminContext } from './admin-commands.ts'
import { clean, iso, safeJson } from './table.ts'

interface AlertCondition {
  condition: string
  subject: string
  detail: string
  openedAt: number
  resolvedAt: number | null
  told: boolean
}

interface AlertsDocument {
  open: AlertCondition[]
  recent: AlertCondition[]
  channels: { name: string; format: string; destination: string; pending: number; lastError: string | null }[]
  sessions?: { whatsappId: string; state: string; lastEventAt: number | null }[]
}

export async function alerts(ctx: AdminContext): Promise<void> {
  if (ctx.options.test) {
    const answer = await ctx.client.post<{ queued: number }>('/admin/alerts/test')
    if (ctx.options.json) ctx.io.out(safeJson(answer))
    else
      ctx.io.out(
        `a test message queued for each of ${answer.queued} channel(s): see "alerts" for each one's delivery`,
      )
    return
  }
  const document = await ctx.client.get<AlertsDocument>('/admin/alerts')
  if (ctx.options.json) {
    ctx.io.out(safeJson(document))
    return
  }
  const line = (row: AlertCondition) =>
    `  ${clean(row.condition)} ${clean(row.subject)}${row.detail ? `: ${clean(row.detail)}` : ''} ` +
    `(opened ${iso(row.openedAt)}${row.resolvedAt === null ? '' : `, resolved ${iso(row.resolvedAt)}`}${row.told ? '' : ', not told yet'})`
  const lines = [
    document.open.length === 0 ? 'no alert open' : `open (${document.open.length}):`,
    ...document.open.map(line),
  ]
  if (document.recent.length > 0)
    lines.push('', `resolved in the last 24 hours (${document.recent.length}):`, ...document.recent.map(line))
  const sessions = document.sessions ?? []
  const troubled = sessions.filter((session) => session.state !== 'ok')
  if (sessions.length > 0) {
    lines.push('', `sessions: ${sessions.length - troubled.length} ok of ${sessions.length}`)
    for (const session of troubled) {
      lines.push(
        `  ${clean(session.whatsappId)} ${clean(session.state)} (last event ${iso(session.lastEventAt)})`,
      )
    }
  }
  lines.push('')
  if (document.channels.length === 0) lines.push('no alert channel: set ALERT_WEBHOOK_URL or ALERTS')
  for (const channel of document.channels) {
    const waiting =
      channel.pending > 0
        ? `, ${channel.pending} waiting${channel.lastError ? ` (last error: ${clean(channel.lastError)})` : ''}`
        : ''
    lines.push(
      `channel ${clean(channel.name)} (${clean(channel.format)}) to ${clean(channel.destination)}${waiting}`,
    )
  }
  for (const text of lines) ctx.io.out(text)
}
