// Alerts as the operator sees them: what is open, what resolved lately, each channel and what
// waits for it; and a test message to every channel (admin only: auth.ts refuses a viewer's POST).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { describeChannel } from '../../alerts/channels.ts'
import type { AlertRow } from '../../store/types.ts'
import type { AdminOptions } from '../admin-plugin.ts'
import { alertsAnswer, alertTestAnswer, commonAnswers } from '../schemas.ts'

const RECENT_MS = 24 * 3_600_000
const RECENT_LIMIT = 200
const MESSAGES_LIMIT = 50

export const alertRoutes: FastifyPluginAsyncZod<AdminOptions> = async (app, opts) => {
  const alerts = opts.alerts
  if (!alerts) return
  app.get(
    '/admin/alerts',
    {
      schema: {
        summary: 'Open alerts, recent ones, and the alert channels',
        response: { 200: alertsAnswer, ...commonAnswers },
      },
    },
    async () => {
      const now = opts.now()
      const [rows, messages] = await Promise.all([
        opts.store.recentAlerts(now - RECENT_MS, RECENT_LIMIT),
        opts.store.recentAlertMessages(MESSAGES_LIMIT),
      ])
      return {
        open: rows.filter((row) => row.resolvedAt === null).map(toCondition),
        recent: rows.filter((row) => row.resolvedAt !== null).map(toCondition),
        channels: alerts.channels.map((channel) => {
          const own = messages.filter((message) => message.channel === channel.name)
          const described = describeChannel(channel)
          return {
            name: channel.name,
            format: channel.format,
            destination: described.destination as string,
            conditions: (channel.conditions as string[] | undefined) ?? null,
            sessions: (channel.sessions as string[] | undefined) ?? null,
            quietHours: channel.quietHours ? `${channel.quietHours} ${channel.timeZone ?? 'UTC'}` : null,
            pending: own.filter((message) => message.status === 'pending').length,
            lastError: own.find((message) => message.status === 'pending')?.lastError ?? null,
          }
        }),
        messages: messages.map(({ id, channel, status, attempts, createdAt, deliveredAt, lastError }) => ({
          id,
          channel,
          status,
          attempts,
          createdAt,
          deliveredAt,
          lastError,
        })),
      }
    },
  )

  app.post(
    '/admin/alerts/test',
    {
      schema: {
        summary: 'Send a test message to every alert channel',
        response: { 200: alertTestAnswer, ...commonAnswers },
      },
    },
    async () => ({ queued: await alerts.test() }),
  )
}

function toCondition(row: AlertRow) {
  return {
    condition: row.condition,
    subject: row.subject,
    session: row.session,
    detail: row.detail,
    openedAt: row.openedAt,
    resolvedAt: row.resolvedAt,
    told: row.resolvedAt === null ? row.openNotifiedAt !== null : row.resolveNotifiedAt !== null,
  }
}
