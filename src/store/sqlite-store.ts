// The outbox on an embedded SQLite file (node:sqlite: built into Node, no compiler needed).
// WAL, durable as synchronous=FULL: a commit that holds an event is on disk before it resolves,
// through an fdatasync off the event loop (wal-sync.ts). Every write goes through one group
// commit, so concurrent requests share a transaction and its sync.
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { StoreUnavailableError } from './errors.ts'
import { createGroupCommit } from './group-commit.ts'
import { issuesColumn, toClaimed, toDeliveryRow, toEventRow, toRefusedRow } from './rows.ts'
import { SQLITE_MIGRATIONS } from './sqlite-schema.ts'
import type {
  AcceptResult,
  AttemptOutcome,
  ClaimedDelivery,
  ClaimRequest,
  DeliveryQuery,
  DeliveryRow,
  DeliveryStatus,
  NewEvent,
  OutboxStore,
  PurgeRequest,
  RefusedRequest,
} from './types.ts'
import { createWalSync } from './wal-sync.ts'

// The dispatcher's bookkeeping (claims and attempt outcomes) does not wait for the disk: WAL order
// puts it there with the next durable commit. A power cut can only undo the record of a send,
// which then repeats with its webhook-id (invariant 3); a killed process loses nothing, as the
// OS holds the write.
const BOOKKEEPING = { durable: false }

export interface SqliteStoreOptions {
  path: string
  /** How long a write waits for a lock held by another connection before failing (503). */
  busyTimeoutMs?: number
}

export function openSqliteStore({ path, busyTimeoutMs = 1000 }: SqliteStoreOptions): OutboxStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  const db = new DatabaseSync(path, { timeout: busyTimeoutMs })
  const mode = db.prepare('PRAGMA journal_mode = WAL').get()?.journal_mode
  // Durability rests on syncing the WAL file (wal-sync.ts); a file system without the shared
  // memory WAL needs (some network mounts) would leave SQLite in its rollback journal.
  if (path !== ':memory:' && mode !== 'wal') {
    db.close()
    throw new Error(
      `SQLite cannot use WAL mode for ${path} (journal mode stays ${mode}): put DATA_DIR on a local disk`,
    )
  }
  db.exec('PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON')
  migrate(db)

  const sql = prepareStatements(db)
  // The marks as stored, so an event writes its session's mark only when it moves it: one write a
  // second per session, not one per event. A rolled-back write leaves a mark here ahead of the
  // table's, which only makes a backfill start a little earlier (more overlap, deduplicated).
  const marks = readMarks()
  function readMarks(): Map<string, string> {
    return new Map(sql.sessionMarks.all().map((row) => [row.whatsapp_id as string, row.newest as string]))
  }
  const wal = path === ':memory:' ? null : createWalSync(`${path}-wal`)
  const writes = createGroupCommit(
    (run) => {
      try {
        db.exec('BEGIN IMMEDIATE')
        run()
        db.exec('COMMIT')
      } catch (error) {
        if (db.isOpen && db.isTransaction) db.exec('ROLLBACK')
        throw new StoreUnavailableError(error)
      }
    },
    async () => {
      try {
        await wal?.sync()
      } catch (error) {
        throw new StoreUnavailableError(error)
      }
    },
  )

  function finish(id: number, status: string | null, outcome: AttemptOutcome, nextAttemptAt: number | null) {
    sql.finish.run({
      id,
      owner: outcome.owner,
      status,
      next: nextAttemptAt,
      now: outcome.now,
      http: outcome.httpStatus,
      error: outcome.error,
    })
  }

  return {
    accept(events: NewEvent[]): Promise<AcceptResult[]> {
      const now = Date.now()
      return writes.submit(() =>
        events.map((event) => {
          const row = sql.insertEvent.get(
            event.key,
            event.whatsappId,
            event.eventId,
            event.action,
            event.eventDate,
            event.body,
            now,
            event.deliveries.length,
            issuesColumn(event.issues),
          )
          if (row === undefined) return { key: event.key, inserted: false }
          for (const delivery of event.deliveries) {
            sql.insertDelivery.run(row.seq as number, delivery.target, now, delivery.orderingKey)
          }
          if (event.eventDate > (marks.get(event.whatsappId) ?? '')) {
            sql.markSession.run(event.whatsappId, event.eventDate)
            marks.set(event.whatsappId, event.eventDate)
          }
          return { key: event.key, inserted: true }
        }),
      )
    },

    keepRefused(request: RefusedRequest, keep: number): Promise<void> {
      return writes.submit(() => {
        sql.insertRefused.run(
          request.receivedAt,
          request.reason,
          request.status,
          JSON.stringify(request.headers),
          request.body,
          request.bodySize,
        )
        sql.trimRefused.run(keep)
      }, BOOKKEEPING)
    },

    claim({ target, limit, owner, now, leaseMs }: ClaimRequest): Promise<ClaimedDelivery[]> {
      return writes.submit(() => {
        const rows = sql.selectDue.all(target, now, now, limit)
        for (const row of rows) sql.lease.run(owner, now + leaseMs, row.id as number)
        return rows.map((row) => toClaimed(row, asBuffer(row.body as Uint8Array)))
      }, BOOKKEEPING)
    },

    complete: (id, outcome) => writes.submit(() => finish(id, 'delivered', outcome, null), BOOKKEEPING),
    retry: (id, outcome) =>
      writes.submit(() => finish(id, null, outcome, outcome.nextAttemptAt), BOOKKEEPING),
    kill: (id, outcome) => writes.submit(() => finish(id, 'dead', outcome, null), BOOKKEEPING),

    // One relay process dispatches from a SQLite file, so a lease found when it starts belongs to
    // a process that died mid-send: due again now, not when the lease would have run out.
    recoverLeases(): Promise<number> {
      return writes.submit(() => Number(sql.releaseAll.run().changes))
    },

    release(ids: number[], owner: string): Promise<void> {
      return writes.submit(() => {
        for (const id of ids) sql.release.run(id, owner)
      })
    },

    expedite(target: string, now: number, limit: number): Promise<number> {
      return writes.submit(() => Number(sql.expedite.run(now, target, limit).changes), BOOKKEEPING)
    },

    async nextDueAt(target: string): Promise<number | null> {
      const row = sql.nextDue.get(target)
      return (row?.due as number | null | undefined) ?? null
    },

    async newestEventDates(): Promise<Map<string, string>> {
      return readMarks()
    },

    markSession(whatsappId: string, eventDate: string): Promise<void> {
      return writes.submit(() => {
        sql.markSession.run(whatsappId, eventDate)
        if (eventDate > (marks.get(whatsappId) ?? '')) marks.set(whatsappId, eventDate)
      })
    },

    purge({ deliveredBefore, deadBefore, limit }: PurgeRequest): Promise<number> {
      return writes.submit(() => {
        const delivered = sql.purgeDelivered.run(deliveredBefore, limit).changes
        const dead = sql.purgeDead.run(deadBefore, limit).changes
        return Number(delivered) + Number(dead)
      })
    },

    async listEvents({ conforming, afterSeq, limit }) {
      const rows = sql.listEvents.all({
        conforming: conforming === undefined ? null : Number(conforming),
        after: afterSeq ?? 0,
        limit,
      })
      return rows.map(toEventRow)
    },

    async listRefused({ afterId, limit }) {
      return sql.listRefused
        .all(afterId ?? 0, limit)
        .map((row) => toRefusedRow(row, row.body === null ? null : asBuffer(row.body as Uint8Array)))
    },

    async listDeliveries({ status, target, afterId, limit }: DeliveryQuery): Promise<DeliveryRow[]> {
      const rows = sql.listDeliveries.all({
        status: status ?? null,
        target: target ?? null,
        after: afterId ?? 0,
        limit,
      })
      return rows.map(toDeliveryRow)
    },

    replay(selector, now) {
      return writes.submit(() => {
        if ('ids' in selector) {
          let replayed = 0
          for (const id of selector.ids) replayed += Number(sql.replayOne.run(now, id).changes)
          return { replayed }
        }
        return { replayed: Number(sql.replayDead.run(now, selector.target).changes) }
      })
    },

    async countDeliveries() {
      return sql.countDeliveries.all() as { target: string; status: DeliveryStatus; count: number }[]
    },

    // Ready means able to take an event: that needs the write lock, which another connection
    // (a backup, an operator's shell) may hold while reads still work.
    async ping(): Promise<void> {
      await writes.submit(() => sql.ping.get(), BOOKKEEPING)
    },

    async close(): Promise<void> {
      // Let queued writes commit first: they have callers waiting to answer.
      await writes.submit(() => undefined).catch(() => undefined)
      await wal?.close()
      if (db.isOpen) db.close()
    },
  }
}

/** A BLOB as a Buffer over the same bytes, without a copy. */
function asBuffer(blob: Uint8Array): Buffer {
  return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength)
}

function migrate(db: DatabaseSync): void {
  const version = Number(db.prepare('PRAGMA user_version').get()?.user_version ?? 0)
  for (let i = version; i < SQLITE_MIGRATIONS.length; i++) {
    db.exec('BEGIN IMMEDIATE')
    db.exec(SQLITE_MIGRATIONS[i] as string)
    db.exec(`PRAGMA user_version = ${i + 1}`)
    db.exec('COMMIT')
  }
}

function prepareStatements(db: DatabaseSync) {
  return {
    insertEvent: db.prepare(`
      INSERT INTO events (key, whatsapp_id, event_id, action, event_date, body, received_at, routed, issues)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (key) DO NOTHING
      RETURNING seq`),
    insertDelivery: db.prepare(`
      INSERT INTO deliveries (event_seq, target, next_attempt_at, ordering_key) VALUES (?, ?, ?, ?)`),
    // An ordered delivery waits while an older one of its target and ordering key is unfinished.
    selectDue: db.prepare(`
      SELECT d.id, d.target, d.attempts, e.key, e.whatsapp_id, e.action, e.body, e.received_at
      FROM deliveries d JOIN events e ON e.seq = d.event_seq
      WHERE d.target = ?1 AND d.status = 'pending' AND d.next_attempt_at <= ?2
        AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= ?3)
        AND (d.ordering_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM deliveries o
          WHERE o.target = d.target AND o.ordering_key = d.ordering_key AND o.status = 'pending' AND o.id < d.id))
      ORDER BY d.next_attempt_at, d.id
      LIMIT ?4`),
    lease: db.prepare('UPDATE deliveries SET lease_owner = ?, lease_expires_at = ? WHERE id = ?'),
    finish: db.prepare(`
      UPDATE deliveries SET
        status = coalesce(:status, status),
        attempts = attempts + 1,
        next_attempt_at = coalesce(:next, next_attempt_at),
        last_status = :http,
        last_error = :error,
        finished_at = CASE WHEN :status IS NULL THEN NULL ELSE :now END,
        lease_owner = NULL,
        lease_expires_at = NULL
      WHERE id = :id AND lease_owner = :owner`),
    release: db.prepare(
      'UPDATE deliveries SET lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND lease_owner = ?',
    ),
    releaseAll: db.prepare(
      'UPDATE deliveries SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner IS NOT NULL',
    ),
    expedite: db.prepare(`
      UPDATE deliveries SET next_attempt_at = ?1
      WHERE id IN (
        SELECT id FROM deliveries WHERE target = ?2 AND status = 'pending' AND next_attempt_at > ?1
        ORDER BY id LIMIT ?3)`),
    nextDue: db.prepare(`
      SELECT min(max(next_attempt_at, coalesce(lease_expires_at, 0))) AS due
      FROM deliveries WHERE target = ? AND status = 'pending'`),
    markSession: db.prepare(`
      INSERT INTO session_marks (whatsapp_id, newest_event_date) VALUES (?, ?)
      ON CONFLICT (whatsapp_id) DO UPDATE
      SET newest_event_date = max(newest_event_date, excluded.newest_event_date)`),
    sessionMarks: db.prepare('SELECT whatsapp_id, newest_event_date AS newest FROM session_marks'),
    purgeDelivered: db.prepare(`
      DELETE FROM events WHERE seq IN (
        SELECT e.seq FROM events e WHERE e.received_at < ? AND NOT EXISTS (
          SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.status <> 'delivered')
        LIMIT ?)`),
    purgeDead: db.prepare(`
      DELETE FROM events WHERE seq IN (
        SELECT e.seq FROM events e WHERE e.received_at < ? AND NOT EXISTS (
          SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.status = 'pending')
        LIMIT ?)`),
    insertRefused: db.prepare(`
      INSERT INTO refused_requests (received_at, reason, status, headers, body, body_size)
      VALUES (?, ?, ?, ?, ?, ?)`),
    trimRefused: db.prepare(`
      DELETE FROM refused_requests WHERE id NOT IN (SELECT id FROM refused_requests ORDER BY id DESC LIMIT ?)`),
    listRefused: db.prepare(`
      SELECT id, received_at, reason, status, headers, body, body_size FROM refused_requests
      WHERE id > ? ORDER BY id LIMIT ?`),
    listEvents: db.prepare(`
      SELECT seq, key, whatsapp_id, event_id, action, event_date, received_at, issues FROM events
      WHERE seq > :after AND (:conforming IS NULL OR (issues IS NULL) = :conforming)
      ORDER BY seq LIMIT :limit`),
    listDeliveries: db.prepare(`
      SELECT d.id, d.target, d.status, e.key, e.whatsapp_id, e.action, d.attempts, d.next_attempt_at,
             d.last_status, d.last_error, e.received_at, d.finished_at
      FROM deliveries d JOIN events e ON e.seq = d.event_seq
      WHERE (:status IS NULL OR d.status = :status) AND (:target IS NULL OR d.target = :target) AND d.id > :after
      ORDER BY d.id LIMIT :limit`),
    // A replay starts the schedule afresh; the last status and error stay until the next attempt.
    replayOne: db.prepare(`
      UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, finished_at = NULL,
        lease_owner = NULL, lease_expires_at = NULL
      WHERE id = ? AND status <> 'pending'`),
    replayDead: db.prepare(`
      UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, finished_at = NULL
      WHERE target = ? AND status = 'dead'`),
    countDeliveries: db.prepare(
      'SELECT target, status, count(*) AS count FROM deliveries GROUP BY target, status',
    ),
    ping: db.prepare('SELECT 1'),
  } satisfies Record<string, StatementSync>
}
