// Alerts on the SQLite file: the store's part of alerts/. One writer, so an opening is an insert
// the partial unique index refuses when the condition is open already.
import type { DatabaseSync } from 'node:sqlite'
import { ALERT_COLUMNS, MAX_ALERT_ERROR, MESSAGE_COLUMNS, toAlertRow, toMessageRow } from './alert-rows.ts'
import type { GroupCommit } from './group-commit.ts'
import type { AlertStore, NewAlertMessage } from './types.ts'

export function sqliteAlerts(db: DatabaseSync, writes: GroupCommit): AlertStore {
  const sql = {
    open: db.prepare(
      `INSERT INTO alert_conditions (condition, subject, session, detail, opened_at, open_notified_at, last_notified_at)
       SELECT :condition, :subject, :session, :detail, :at, :told, :told
       WHERE NOT EXISTS (SELECT 1 FROM alert_conditions
                         WHERE condition = :condition AND subject = :subject AND resolved_at > :at)
       ON CONFLICT DO NOTHING`,
    ),
    resolve: db.prepare(
      'UPDATE alert_conditions SET resolved_at = ? WHERE condition = ? AND subject = ? AND resolved_at IS NULL',
    ),
    openRows: db.prepare(
      `SELECT ${ALERT_COLUMNS} FROM alert_conditions WHERE resolved_at IS NULL ORDER BY id`,
    ),
    recent: db.prepare(
      `SELECT ${ALERT_COLUMNS} FROM alert_conditions
       WHERE resolved_at IS NULL OR resolved_at >= ? ORDER BY id DESC LIMIT ?`,
    ),
    untoldOpen: db.prepare(
      `SELECT ${ALERT_COLUMNS} FROM alert_conditions WHERE open_notified_at IS NULL ORDER BY id`,
    ),
    untoldResolved: db.prepare(
      `SELECT ${ALERT_COLUMNS} FROM alert_conditions
       WHERE resolved_at IS NOT NULL AND resolve_notified_at IS NULL ORDER BY id`,
    ),
    dueReminders: db.prepare(
      `SELECT ${ALERT_COLUMNS} FROM alert_conditions
       WHERE resolved_at IS NULL AND open_notified_at IS NOT NULL AND last_notified_at <= ? ORDER BY id`,
    ),
    markOpened: db.prepare(
      'UPDATE alert_conditions SET open_notified_at = ?, last_notified_at = ? WHERE id = ?',
    ),
    markResolved: db.prepare(
      'UPDATE alert_conditions SET resolve_notified_at = ?, open_notified_at = coalesce(open_notified_at, ?) WHERE id = ?',
    ),
    markReminded: db.prepare('UPDATE alert_conditions SET last_notified_at = ? WHERE id = ?'),
    queue: db.prepare(
      'INSERT INTO alert_messages (channel, body, created_at, next_attempt_at) VALUES (?, ?, ?, ?)',
    ),
    head: db.prepare(
      `SELECT ${MESSAGE_COLUMNS}, lease_expires_at FROM alert_messages
       WHERE channel = ? AND status = 'pending' ORDER BY id LIMIT 1`,
    ),
    lease: db.prepare('UPDATE alert_messages SET lease_expires_at = ? WHERE id = ?'),
    releaseAll: db.prepare(
      "UPDATE alert_messages SET lease_expires_at = 0 WHERE status = 'pending' AND lease_expires_at > 0",
    ),
    delivered: db.prepare(
      `UPDATE alert_messages SET status = 'delivered', attempts = attempts + 1, delivered_at = ?,
       last_error = NULL, lease_expires_at = 0 WHERE id = ? AND status = 'pending'`,
    ),
    retry: db.prepare(
      `UPDATE alert_messages SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?,
       lease_expires_at = 0 WHERE id = ? AND status = 'pending'`,
    ),
    purgeMessages: db.prepare("DELETE FROM alert_messages WHERE status = 'delivered' AND delivered_at < ?"),
    purgeConditions: db.prepare(
      'DELETE FROM alert_conditions WHERE resolved_at < ? AND resolve_notified_at IS NOT NULL',
    ),
    recentMessages: db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM alert_messages ORDER BY id DESC LIMIT ?`),
    state: db.prepare('SELECT value FROM alert_state WHERE name = ?'),
    setState: db.prepare(
      'INSERT INTO alert_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    ),
  }
  const queue = (messages: NewAlertMessage[], now: number) => {
    for (const message of messages) sql.queue.run(message.channel, message.body, now, now)
  }
  return {
    // Openings and resolutions wait for the disk, as events do: a power cut must not undo one
    // that was already told.
    openAlert(alert) {
      return writes.submit(
        () =>
          Number(
            sql.open.run({
              condition: alert.condition,
              subject: alert.subject,
              session: alert.session,
              detail: alert.detail,
              at: alert.at,
              told: alert.toldAt ?? null,
            }).changes,
          ) > 0,
      )
    },
    resolveAlert(condition, subject, at) {
      return writes.submit(() => Number(sql.resolve.run(at, condition, subject).changes) > 0)
    },
    async openAlerts() {
      return sql.openRows.all().map(toAlertRow)
    },
    async recentAlerts(resolvedSince, limit) {
      return sql.recent.all(resolvedSince, limit).map(toAlertRow)
    },
    tellAlerts({ now, groupWindowMs, reminderMs }, compose) {
      return writes.submit(() => {
        const untold = sql.untoldOpen.all().map(toAlertRow)
        // The oldest untold opening waits out the window, so that those opening with it join it.
        const oldest = untold[0]
        const opened = oldest && oldest.openedAt <= now - groupWindowMs ? untold : []
        const resolved = sql.untoldResolved
          .all()
          .map(toAlertRow)
          .filter((row) => row.openNotifiedAt !== null || opened.some((o) => o.id === row.id))
        const reminded = sql.dueReminders.all(now - reminderMs).map(toAlertRow)
        const messages = compose({ opened, resolved, reminded })
        for (const row of opened) sql.markOpened.run(now, now, row.id)
        for (const row of resolved) sql.markResolved.run(now, now, row.id)
        for (const row of reminded) sql.markReminded.run(now, row.id)
        queue(messages, now)
        return messages.length
      })
    },
    queueAlertMessages(messages, now) {
      return writes.submit(() => queue(messages, now))
    },
    claimAlertMessage(channel, now, leaseMs) {
      return writes.submit(
        () => {
          const head = sql.head.get(channel)
          if (!head || Number(head.next_attempt_at) > now || Number(head.lease_expires_at) > now) return null
          sql.lease.run(now + leaseMs, head.id as number)
          return toMessageRow(head)
        },
        { durable: false },
      )
    },
    recoverAlertLeases() {
      return writes.submit(() => Number(sql.releaseAll.run().changes))
    },
    finishAlertMessage(id, outcome, now) {
      return writes.submit(() => {
        if ('delivered' in outcome) sql.delivered.run(now, id)
        else sql.retry.run(outcome.retryAt, outcome.error.slice(0, MAX_ALERT_ERROR), id)
      })
    },
    async recentAlertMessages(limit) {
      return sql.recentMessages.all(limit).map(toMessageRow)
    },
    purgeAlerts(before) {
      return writes.submit(
        () => Number(sql.purgeMessages.run(before).changes) + Number(sql.purgeConditions.run(before).changes),
        { durable: false },
      )
    },
    async alertState(name) {
      return (sql.state.get(name)?.value as string | undefined) ?? null
    },
    setAlertState(name, value) {
      return writes.submit(() => void sql.setState.run(name, value))
    },
  }
}
