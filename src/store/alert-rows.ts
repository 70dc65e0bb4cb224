// Alert rows as both stores read them (sqlite-alerts.ts, postgres-alerts.ts): one mapping.
import type { AlertMessageRow, AlertRow } from './types.ts'

export const ALERT_COLUMNS =
  'id, condition, subject, session, detail, opened_at, resolved_at, open_notified_at, resolve_notified_at, last_notified_at'

export const MESSAGE_COLUMNS =
  'id, channel, body, created_at, status, attempts, next_attempt_at, last_error, delivered_at'

/** Longest error text kept with a message. */
export const MAX_ALERT_ERROR = 300

export function toAlertRow(row: Record<string, unknown>): AlertRow {
  return {
    id: Number(row.id),
    condition: row.condition as string,
    subject: row.subject as string,
    session: (row.session as string | null) ?? null,
    detail: row.detail as string,
    openedAt: Number(row.opened_at),
    resolvedAt: numberOrNull(row.resolved_at),
    openNotifiedAt: numberOrNull(row.open_notified_at),
    resolveNotifiedAt: numberOrNull(row.resolve_notified_at),
    lastNotifiedAt: numberOrNull(row.last_notified_at),
  }
}

export function toMessageRow(row: Record<string, unknown>): AlertMessageRow {
  return {
    id: Number(row.id),
    channel: row.channel as string,
    body: row.body as string,
    createdAt: Number(row.created_at),
    status: row.status as AlertMessageRow['status'],
    attempts: Number(row.attempts),
    nextAttemptAt: Number(row.next_attempt_at),
    lastError: (row.last_error as string | null) ?? null,
    deliveredAt: numberOrNull(row.delivered_at),
  }
}

function numberOrNull(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value)
}
