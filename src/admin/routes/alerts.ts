// Alerts as the operator sees them: what is open, what resolved lately, each channel and what
// waits for it; and a test message to every channel (admin only: auth.ts refuses a viewer's POST).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { describeChannel } from '../../alerts/channels.ts'
import { alertItemOf } from '../../alerts/messages.ts'
import type { AlertRow } from '../../store/types.ts'
import type { AdminOptions } from '../admin-plugin.ts'
import { alertsAnswer, alertTestAnswer, commonAnswers } from '../schemas.ts'

const RECENT_MS = 24 * 3_600_000
const RECENT_LIMIT = 200
const MESSAGES_LIMIT = 50
/** What alerts/session-watch.ts learns of each session, kept in the store. */
const SESSIONS_STATE = 'sessions.activity'
const SESSIONS_LIMIT = 500
/** A session's state: its worst open condition, in this order. */
const SESSION_STATES = [
  ['session.disconnected', 'disconnected'],
  ['session.unregistered', 'unregistered'],
  ['session.silent', 'silent'],
  ['session.error', 'error'],
] as const

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
      const [rows, messages, activity] = await Promise.all([
        opts.store.recentAlerts(now - RECENT_MS, RECENT_LIMIT),
        opts.store.recentAlertMessages(MESSAGES_LIMIT),
        opts.store.alertState(SESSIONS_STATE),
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
        sessions: sessionsOf(activity, rows),
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

function sessionsOf(activity: string | null, rows: AlertRow[]) {
  const lastAt = new Map<string, number | null>()
  try {
    for (const [id, seen] of Object.entries(activity === null ? {} : JSON.parse(activity))) {
      lastAt.set(
        id,
        typeof (seen as { lastAt?: unknown }).lastAt === 'number'
          ? (seen as { lastAt: number }).lastAt
          : null,
      )
    }
  } catch {
    // Not yet written, or written by another version: the open conditions still name sessions.
  }
  const open = rows.filter((row) => row.resolvedAt === null && row.session !== null)
  for (const row of open) if (!lastAt.has(row.session as string)) lastAt.set(row.session as string, null)
  return [...lastAt]
    .sort(([a], [b]) => a.localeCompare(b))
    .slice(0, SESSIONS_LIMIT)
    .map(([whatsappId, lastEventAt]) => {
      const mine = open.filter((row) => row.session === whatsappId).map((row) => row.condition)
      const state: (typeof SESSION_STATES)[number][1] | 'ok' =
        SESSION_STATES.find(([condition]) => mine.includes(condition))?.[1] ?? 'ok'
      return { whatsappId, state, lastEventAt }
    })
}

function toCondition(row: AlertRow) {
  return {
    ...alertItemOf(row),
    told: row.resolvedAt === null ? row.openNotifiedAt !== null : row.resolveNotifiedAt !== null,
  }
}
