// Alerts on PostgreSQL, shared by every replica: the store's part of alerts/. Every replica
// evaluates; an opening is an insert the partial unique index lets only one make, a resolution an
// update only one makes, and telling takes an advisory lock so that one replica tells each thing.
import type { PoolClient, QueryResult, QueryResultRow } from 'pg'
import { ALERT_COLUMNS, MAX_ALERT_ERROR, MESSAGE_COLUMNS, toAlertRow, toMessageRow } from './alert-rows.ts'
import { LOCK_CLASS } from './postgres-schema.ts'
import type { AlertStore, NewAlertMessage } from './types.ts'

type Query = <R extends QueryResultRow>(text: string, values?: unknown[]) => Promise<QueryResult<R>>
type Transaction = <T>(work: (client: PoolClient) => Promise<T>) => Promise<T>

export function postgresAlerts(query: Query, transaction: Transaction): AlertStore {
  async function queue(client: PoolClient, messages: NewAlertMessage[], now: number): Promise<void> {
    if (messages.length === 0) return
    await client.query(
      `INSERT INTO alert_messages (channel, body, created_at, next_attempt_at)
       SELECT channel, body, $3, $3 FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS m (channel, body, n)
       ORDER BY n`,
      [messages.map((m) => m.channel), messages.map((m) => m.body), now],
    )
  }
  return {
    async openAlert(alert) {
      const result = await query(
        `INSERT INTO alert_conditions (condition, subject, session, detail, opened_at, open_notified_at, last_notified_at)
         SELECT $1, $2, $3, $4, $5, $6::bigint, $6::bigint
         WHERE NOT EXISTS (SELECT 1 FROM alert_conditions
                           WHERE condition = $1 AND subject = $2 AND resolved_at > $5)
         ON CONFLICT DO NOTHING`,
        [alert.condition, alert.subject, alert.session, alert.detail, alert.at, alert.toldAt ?? null],
      )
      return (result.rowCount ?? 0) > 0
    },
    async resolveAlert(condition, subject, at) {
      const result = await query(
        `UPDATE alert_conditions SET resolved_at = $1
         WHERE condition = $2 AND subject = $3 AND resolved_at IS NULL`,
        [at, condition, subject],
      )
      return (result.rowCount ?? 0) > 0
    },
    async openAlerts() {
      const { rows } = await query(
        `SELECT ${ALERT_COLUMNS} FROM alert_conditions WHERE resolved_at IS NULL ORDER BY id`,
      )
      return rows.map(toAlertRow)
    },
    async recentAlerts(resolvedSince, limit) {
      const { rows } = await query(
        `SELECT ${ALERT_COLUMNS} FROM alert_conditions
         WHERE resolved_at IS NULL OR resolved_at >= $1 ORDER BY id DESC LIMIT $2`,
        [resolvedSince, limit],
      )
      return rows.map(toAlertRow)
    },
    tellAlerts({ now, groupWindowMs, reminderMs }, compose) {
      return transaction(async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1, 0)', [LOCK_CLASS.alerts])
        const untold = (
          await client.query(
            `SELECT ${ALERT_COLUMNS} FROM alert_conditions WHERE open_notified_at IS NULL ORDER BY id`,
          )
        ).rows.map(toAlertRow)
        const oldest = untold[0]
        const opened = oldest && oldest.openedAt <= now - groupWindowMs ? untold : []
        const resolved = (
          await client.query(
            `SELECT ${ALERT_COLUMNS} FROM alert_conditions
             WHERE resolved_at IS NOT NULL AND resolve_notified_at IS NULL ORDER BY id`,
          )
        ).rows
          .map(toAlertRow)
          .filter((row) => row.openNotifiedAt !== null || opened.some((o) => o.id === row.id))
        const reminded = (
          await client.query(
            `SELECT ${ALERT_COLUMNS} FROM alert_conditions
             WHERE resolved_at IS NULL AND open_notified_at IS NOT NULL AND last_notified_at <= $1 ORDER BY id`,
            [now - reminderMs],
          )
        ).rows.map(toAlertRow)
        const messages = compose({ opened, resolved, reminded })
        const ids = (rows: { id: number }[]) => rows.map((row) => row.id)
        await client.query(
          'UPDATE alert_conditions SET open_notified_at = $1, last_notified_at = $1 WHERE id = ANY($2::bigint[])',
          [now, ids(opened)],
        )
        await client.query(
          `UPDATE alert_conditions SET resolve_notified_at = $1, open_notified_at = coalesce(open_notified_at, $1)
           WHERE id = ANY($2::bigint[])`,
          [now, ids(resolved)],
        )
        await client.query('UPDATE alert_conditions SET last_notified_at = $1 WHERE id = ANY($2::bigint[])', [
          now,
          ids(reminded),
        ])
        await queue(client, messages, now)
        return messages.length
      })
    },
    queueAlertMessages(messages, now) {
      return transaction((client) => queue(client, messages, now))
    },
    async claimAlertMessage(channel, now, leaseMs) {
      // The head only, and only when no replica holds it: a channel's messages go in order. The
      // status is checked again on the row itself: one that another replica was finishing is
      // re-read here once that commits (delivered, its lease freed) and must not be taken.
      const { rows } = await query(
        `UPDATE alert_messages SET lease_expires_at = $3
         WHERE id = (SELECT id FROM alert_messages WHERE channel = $1 AND status = 'pending' ORDER BY id LIMIT 1)
           AND status = 'pending' AND next_attempt_at <= $2 AND lease_expires_at <= $2
         RETURNING ${MESSAGE_COLUMNS}`,
        [channel, now, now + leaseMs],
      )
      return rows[0] === undefined ? null : toMessageRow(rows[0])
    },
    // Another replica may hold a lease: each runs out on its own.
    async recoverAlertLeases() {
      return 0
    },
    async finishAlertMessage(id, outcome, now) {
      if ('delivered' in outcome) {
        await query(
          `UPDATE alert_messages SET status = 'delivered', attempts = attempts + 1, delivered_at = $1,
           last_error = NULL, lease_expires_at = 0 WHERE id = $2 AND status = 'pending'`,
          [now, id],
        )
      } else {
        await query(
          `UPDATE alert_messages SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2,
           lease_expires_at = 0 WHERE id = $3 AND status = 'pending'`,
          [outcome.retryAt, outcome.error.slice(0, MAX_ALERT_ERROR), id],
        )
      }
    },
    async recentAlertMessages(limit) {
      const { rows } = await query(
        `SELECT ${MESSAGE_COLUMNS} FROM alert_messages ORDER BY id DESC LIMIT $1`,
        [limit],
      )
      return rows.map(toMessageRow)
    },
    async purgeAlerts(before) {
      const messages = await query(
        "DELETE FROM alert_messages WHERE status = 'delivered' AND delivered_at < $1",
        [before],
      )
      const conditions = await query(
        'DELETE FROM alert_conditions WHERE resolved_at < $1 AND resolve_notified_at IS NOT NULL',
        [before],
      )
      return (messages.rowCount ?? 0) + (conditions.rowCount ?? 0)
    },
    async alertState(name) {
      const { rows } = await query<{ value: string }>('SELECT value FROM alert_state WHERE name = $1', [name])
      return rows[0]?.value ?? null
    },
    async setAlertState(name, value) {
      await query(
        `INSERT INTO alert_state (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
        [name, value],
      )
    },
  }
}
