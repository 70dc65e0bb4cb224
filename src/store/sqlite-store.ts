// The outbox on an embedded SQLite file (node:sqlite: built into Node, no compiler needed).
// WAL, durable as synchronous=FULL: a commit that holds an event is on disk before it resolves,
// through an fdatasync off the event loop (wal-sync.ts). Every write goes through one group
// commit, so concurrent requests share a transaction and its sync.
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import { chatOfFilter } from '../events/parse.ts'
import { chatParty, partyOf, storedParties } from '../events/parties.ts'
import { type Clock, systemClock } from '../shared/clock.ts'
import { COMMIT_INTERVAL_MS } from './commit-interval.ts'
import { conflictOf, toConflictRow } from './conflicts.ts'
import { StoreUnavailableError } from './errors.ts'
import { createGroupCommit } from './group-commit.ts'
import {
  attemptColumns,
  decisionColumns,
  headersColumn,
  headersOf,
  issuesColumn,
  toAttemptRow,
  toClaimed,
  toDeliveryRow,
  toEventRow,
  toRefusedRow,
  withAttempts,
} from './rows.ts'
import { sqliteAdminSessions } from './sqlite-admin-sessions.ts'
import { sqliteAlerts } from './sqlite-alerts.ts'
import { sqliteDeadLetters } from './sqlite-dead-letters.ts'
import { sqliteEventSummaries } from './sqlite-event-list.ts'
import { sqliteHeartbeats } from './sqlite-heartbeats.ts'
import { type DeliveryFilter, type EventFilter, SQL } from './sqlite-queries.ts'
import { SQLITE_MIGRATIONS } from './sqlite-schema.ts'
import { sqliteTrafficReads, sqliteTrafficWrites } from './sqlite-stats.ts'
import { type BoundReads, type BoundsRow, boundsOf, type ProbeRow } from './time-range.ts'
import type {
  AcceptResult,
  ClaimedDelivery,
  ClaimRequest,
  DeliveryQuery,
  DeliveryRow,
  DeliveryStatus,
  NewDelivery,
  NewEvent,
  OutboxStore,
  PurgeRequest,
  RefusedRequest,
} from './types.ts'
import { createWalSync } from './wal-sync.ts'
import { createWriteHealth } from './write-health.ts'

// The dispatcher's bookkeeping (claims and attempt outcomes) does not wait for the disk: WAL order
// puts it there with the next durable commit. A power cut can only undo the record of a send,
// which then repeats with its webhook-id (docs/architecture.md, invariant 3); a killed process
// loses nothing, as the OS holds the write.
const BOOKKEEPING = { durable: false }

export interface SqliteStoreOptions {
  path: string
  /** How long a write waits for a lock held by another connection before failing (503). */
  busyTimeoutMs?: number
  /** Stamps each accepted event's received time; real time by default. */
  clock?: Pick<Clock, 'now'>
  /** WAL pages before SQLite checkpoints (SQLite's 1000 when unset): benches make checkpoints frequent. */
  walAutocheckpoint?: number
  /**
   * synchronous=OFF and no WAL sync: acknowledged events are lost when the power fails. Only for
   * the power-loss bench (bench/power-loss.ts), to show it can see a loss.
   */
  unsafeNoSync?: boolean
}

export function openSqliteStore({
  path,
  busyTimeoutMs = 1000,
  clock = systemClock,
  walAutocheckpoint,
  unsafeNoSync = false,
}: SqliteStoreOptions): OutboxStore {
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
  db.exec(`PRAGMA synchronous = ${unsafeNoSync ? 'OFF' : 'NORMAL'}; PRAGMA foreign_keys = ON`)
  if (walAutocheckpoint !== undefined) db.exec(`PRAGMA wal_autocheckpoint = ${Math.trunc(walAutocheckpoint)}`)
  migrate(db)

  const sql = prepare(db)
  const summaries = sqliteEventSummaries(db)
  const traffic = sqliteTrafficWrites(db)
  const lists = {
    events: preparedPerFilters(db, SQL.listEvents),
    deliveries: preparedPerFilters(db, SQL.listDeliveries),
  }
  // The marks as stored, so an event writes its session's mark only when it moves it: one write a
  // second per session, not one per event. A rolled-back write leaves a mark here ahead of the
  // table's, which only makes a backfill start a little earlier (more overlap, deduplicated).
  const marks = readMarks()
  function readMarks(): Map<string, string> {
    return new Map(sql.sessionMarks.all().map((row) => [row.whatsapp_id as string, row.newest as string]))
  }
  const boundReads: BoundReads = {
    // Measured on 1,000,000 events: an index entry costs a third of a row read in seq order, and
    // a delivery's event looked up in seq order about what its bounds cost.
    costs: { events: 1 / 3, deliveries: 1 / 2 },
    probe: async (from, to, delivery) => sql.timeRange.get({ from, to, delivery }) as unknown as ProbeRow,
    seqs: async (from, to) => sql.seqBounds.get({ from, to }) as unknown as BoundsRow,
    ids: async (low, high) => sql.idBounds.get({ low, high }) as unknown as BoundsRow,
  }
  const wal = path === ':memory:' || unsafeNoSync ? null : createWalSync(`${path}-wal`)
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
    COMMIT_INTERVAL_MS,
  )
  const health = createWriteHealth(clock)

  /** A duplicate key's copy: kept beside its event when its body differs (conflicts.ts). */
  function keepConflict(event: NewEvent, now: number): AcceptResult {
    if (event.headers === null) return { key: event.key, inserted: false }
    const found = sql.findCopy.get({ key: event.key, body: event.body })
    const conflict = found && conflictOf({ same: found.same === 1, kept: found.kept as number })
    if (!found || !conflict) return { key: event.key, inserted: false }
    if (conflict === 'kept') {
      sql.insertConflict.run(found.seq as number, now, headersColumn(event.headers), event.body)
    }
    return { key: event.key, inserted: false, conflict }
  }

  const deadLetters = sqliteDeadLetters(db, writes)

  return {
    ...sqliteAdminSessions(db, writes),
    ...sqliteHeartbeats(db, writes),
    ...sqliteAlerts(db, writes),
    ...deadLetters,
    ...sqliteTrafficReads(db),

    accept(events: NewEvent[]): Promise<AcceptResult[]> {
      const now = clock.now()
      const written = writes.submit(() => {
        // Read once per transaction, and only when a delivery asks to be leased.
        let paused: Set<string> | null = null
        const leasable = (delivery: NewDelivery) => {
          paused ??= new Set(sql.pausedTargets.all().map((row) => row.target as string))
          if (paused.has(delivery.target)) return false
          return delivery.orderingKey === null || !sql.lanePending.get(delivery.target, delivery.orderingKey)
        }
        const results = events.map((event): AcceptResult => {
          const row = sql.insertEvents.get(
            event.key,
            event.whatsappId,
            event.eventId,
            event.action,
            event.eventDate,
            event.chat,
            headersColumn(event.headers),
            event.body,
            issuesColumn(event.issues),
            now,
          )
          if (row === undefined) return keepConflict(event, now)
          for (const party of storedParties(event.parties, event.chat))
            sql.insertParty.run(row.seq as number, party)
          const leased: { target: string; id: number }[] = []
          for (const delivery of event.deliveries) {
            const lease = delivery.lease && leasable(delivery) ? delivery.lease : null
            const { lastInsertRowid } = sql.insertDeliveries.run(
              row.seq as number,
              delivery.target,
              delivery.orderingKey,
              now,
              lease?.owner ?? null,
              lease?.expiresAt ?? null,
            )
            if (lease) leased.push({ target: delivery.target, id: Number(lastInsertRowid) })
          }
          if (event.eventDate > (marks.get(event.whatsappId) ?? '')) {
            sql.markSessions.run(event.whatsappId, event.eventDate)
            marks.set(event.whatsappId, event.eventDate)
          }
          return { key: event.key, inserted: true, receivedAt: now, leased }
        })
        traffic.received(now, results.filter((result) => result.inserted).length)
        return results
      })
      return health.watch(written)
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
        const rows = sql.claim.all(target, now, limit)
        for (const row of rows) sql.lease.run(row.id as number, owner, now + leaseMs)
        return rows.map((row) => toClaimed(row, asBuffer(row.body as Uint8Array)))
      }, BOOKKEEPING)
    },

    async record(id, decision, outcome): Promise<void> {
      const { status, next } = decisionColumns(decision)
      const { owner, now, httpStatus: http, error, errorClass } = outcome
      await writes.submit(() => {
        // No attempt without its outcome: a lease that ran out leaves both to its new holder.
        const changes = sql.record.run({ id, owner, status, next, now, http, error, errorClass }).changes
        if (Number(changes) === 0) return
        sql.insertAttempt.run({ id, ...attemptColumns(outcome) })
        traffic.recorded(id, now, decision, outcome.errorClass !== null)
      }, BOOKKEEPING)
    },

    // One relay process dispatches from a SQLite file, so a lease found when it starts belongs to
    // a process that died mid-send: due again now, not when the lease would have run out.
    recoverLeases(): Promise<number> {
      return writes.submit(() => Number(sql.releaseAll.run().changes))
    },

    release(ids: number[], owner: string): Promise<void> {
      return writes.submit(() => {
        sql.release.run(JSON.stringify(ids), owner)
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
        sql.markSessions.run(whatsappId, eventDate)
        if (eventDate > (marks.get(whatsappId) ?? '')) marks.set(whatsappId, eventDate)
      })
    },

    purge({ deliveredBefore, deadBefore, limit }: PurgeRequest): Promise<number> {
      return writes.submit(() => {
        const delivered = sql.purgeDelivered.run(deliveredBefore, limit).changes
        const dead = sql.purgeDead.run(deadBefore, limit).changes
        // Traffic counts are kept as long as the events kept longest.
        traffic.purge(Math.min(deliveredBefore, deadBefore))
        return Number(delivered) + Number(dead)
      })
    },

    async listEvents(query) {
      const {
        conforming,
        whatsappId,
        action,
        chat,
        party,
        key,
        receivedFrom,
        receivedBefore,
        afterSeq,
        newestFirst,
        beforeSeq,
        outcome,
        target,
        limit,
      } = query
      const before = beforeSeq ?? Number.MAX_SAFE_INTEGER
      const page: Record<string, number> = newestFirst ? { before, limit } : { after: afterSeq ?? 0, limit }
      const partyKey = party === undefined ? undefined : partyOf(party)
      if (partyKey === null) return []
      const chatJid = chat === undefined ? undefined : chatOfFilter(chat)
      // A chat's events are read from its party rows (chatParty), the chat checked on each.
      const leadParty = partyKey ?? (chatJid === undefined ? undefined : (chatParty(chatJid) ?? undefined))
      const range = newestFirst ? { after: 0, before, limit } : { after: afterSeq ?? 0, limit }
      const bounds = await boundsOf(query, { deliveries: false, ...range }, boundReads)
      if (bounds === 'empty') return []
      const given = {
        conforming: conforming === true,
        nonconforming: conforming === false,
        session: whatsappId !== undefined,
        action: action !== undefined,
        chat: chatJid !== undefined,
        party: leadParty !== undefined,
        key: key !== undefined,
        from: receivedFrom !== undefined,
        to: receivedBefore !== undefined,
        bounds: bounds !== null,
        older: newestFirst === true,
        delivered: outcome === 'delivered',
        pending: outcome === 'pending',
        retrying: outcome === 'retrying',
        paused: outcome === 'paused',
        dead: outcome === 'dead',
        target: target !== undefined,
      } satisfies Record<EventFilter, boolean>
      const rows = lists.events(given).all({
        ...(target !== undefined && { target }),
        ...(whatsappId !== undefined && { session: whatsappId }),
        ...(action !== undefined && { action }),
        ...(chatJid !== undefined && { chat: chatJid }),
        ...(leadParty !== undefined && { party: leadParty }),
        ...(key !== undefined && { key }),
        ...(receivedFrom !== undefined && { from: receivedFrom }),
        ...(receivedBefore !== undefined && { to: receivedBefore }),
        ...bounds,
        ...page,
      })
      return rows.map(toEventRow)
    },

    async listRefused({ afterId, newestFirst, beforeId, limit }) {
      const rows = newestFirst
        ? sql.listRefusedNewest.all(beforeId ?? Number.MAX_SAFE_INTEGER, limit)
        : sql.listRefused.all(afterId ?? 0, limit)
      return rows.map((row) => toRefusedRow(row, row.body === null ? null : asBuffer(row.body as Uint8Array)))
    },

    async listConflicts({ afterId, limit }) {
      return sql.listConflicts
        .all(afterId ?? Number.MAX_SAFE_INTEGER, limit)
        .map((row) => toConflictRow(row, asBuffer(row.body as Uint8Array)))
    },

    async listDeliveries(query: DeliveryQuery): Promise<DeliveryRow[]> {
      const {
        status,
        target,
        whatsappId,
        receivedFrom,
        receivedBefore,
        afterId,
        newestFirst,
        beforeId,
        limit,
      } = query
      const before = beforeId ?? Number.MAX_SAFE_INTEGER
      const page: Record<string, number> = newestFirst ? { before, limit } : { after: afterId ?? 0, limit }
      const range = newestFirst ? { after: 0, before, limit } : { after: afterId ?? 0, limit }
      const bounds = await boundsOf(query, { deliveries: true, ...range }, boundReads)
      if (bounds === 'empty') return []
      const given = {
        pending: status === 'pending',
        delivered: status === 'delivered',
        dead: status === 'dead',
        target: target !== undefined,
        session: whatsappId !== undefined,
        from: receivedFrom !== undefined,
        to: receivedBefore !== undefined,
        bounds: bounds !== null,
        older: newestFirst === true,
      } satisfies Record<DeliveryFilter, boolean>
      const rows = lists.deliveries(given).all({
        ...(target !== undefined && { target }),
        ...(whatsappId !== undefined && { session: whatsappId }),
        ...(receivedFrom !== undefined && { from: receivedFrom }),
        ...(receivedBefore !== undefined && { to: receivedBefore }),
        ...bounds,
        ...page,
      })
      return rows.map(toDeliveryRow)
    },

    async eventSummaries(seqs) {
      return summaries(seqs)
    },

    // Reads run on the connection that writes, between transactions: each sees one state.
    async getDelivery(id) {
      const row = sql.getDelivery.get(id)
      if (row === undefined) return null
      const [delivery] = withAttempts([toDeliveryRow(row)], sql.attemptsOfDelivery.all(id).map(toAttemptRow))
      return delivery ?? null
    },

    async getEvent(key) {
      const row = sql.getEvent.get(key)
      if (row === undefined) return null
      const seq = row.seq as number
      const deliveries = sql.deliveriesOfEvent.all(seq).map(toDeliveryRow)
      const attempts = sql.attemptsOfEvent.all(seq).map(toAttemptRow)
      return {
        ...toEventRow(row),
        headers: headersOf(row),
        body: asBuffer(row.body as Uint8Array),
        deliveries: withAttempts(deliveries, attempts),
        conflicts: sql.conflictsOfEvent
          .all(seq)
          .map((conflict) => toConflictRow(conflict, asBuffer(conflict.body as Uint8Array))),
      }
    },

    // Every dead one of a target, and a filter's, go a chunk per transaction.
    replay(selector, now) {
      if ('dead' in selector) return deadLetters.replayDeadLetters(selector.dead, now)
      if ('target' in selector) return deadLetters.replayDeadLetters({ target: selector.target }, now)
      return writes.submit(() => {
        const result =
          'ids' in selector
            ? sql.replayIds.run(now, JSON.stringify(selector.ids))
            : sql.replayEvent.run(now, selector.eventKey, selector.status ?? null)
        return { replayed: Number(result.changes) }
      })
    },

    async countDeliveries() {
      return sql.countDeliveries.all() as { target: string; status: DeliveryStatus; count: number }[]
    },

    async backlog() {
      return new Map(
        sql.backlog
          .all()
          .map((row) => [
            row.target as string,
            { pending: row.pending as number, oldestReceivedAt: row.oldest as number },
          ]),
      )
    },

    async countReceivedSince(since) {
      return sql.countReceivedSince.get(since)?.count as number
    },

    // Durable: an operator's pause must hold through a power cut as well as a restart.
    setPaused(target, paused, now) {
      return writes.submit(() => {
        sql.setPaused.run(target, paused ? now : null)
      })
    },

    async pausedTargets() {
      const rows = sql.pausedTargets.all()
      return new Map(rows.map((row) => [row.target as string, row.paused_at as number]))
    },

    async readStream(target, afterId, limit) {
      return sql.readStream
        .all(target, afterId, limit)
        .map((row) => ({ id: row.id as number, body: asBuffer(row.body as Uint8Array) }))
    },

    async streamHead(target) {
      return sql.streamHead.get(target)?.head as number
    },

    confirmStream(target, position, now) {
      return writes.submit(() => {
        const head = sql.streamHead.get(target)?.head as number
        return sql.keepStreamPosition.get(target, Math.min(position, head), now)?.position as number
      })
    },

    markStreamDelivered(target, upTo, now, limit) {
      return writes.submit(() => {
        const marked = Number(sql.markStreamDelivered.run(target, upTo, now, limit).changes)
        traffic.streamDelivered(target, now, marked)
        return marked
      }, BOOKKEEPING)
    },

    async streamPosition(target) {
      return (sql.streamPosition.get(target)?.position as number | undefined) ?? 0
    },

    // Ready means able to take an event: that needs the write lock, which another connection
    // (a backup, an operator's shell) may hold while reads still work, and room to write.
    ping(): Promise<void> {
      return health.check(() =>
        writes.submit(() => {
          const { lastInsertRowid } = sql.probe.run(clock.now())
          sql.probeTrim.run(lastInsertRowid)
        }, BOOKKEEPING),
      )
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

type Statements = { [K in keyof typeof SQL as (typeof SQL)[K] extends string ? K : never]: StatementSync }

function prepare(db: DatabaseSync): Statements {
  const entries = Object.entries(SQL).flatMap(([name, text]) =>
    typeof text === 'string' ? [[name, db.prepare(text)]] : [],
  )
  return Object.fromEntries(entries) as Statements
}

/** A list statement for the filters given, prepared the first time that combination is asked for. */
function preparedPerFilters<F extends string>(
  db: DatabaseSync,
  build: (filters: readonly F[]) => string,
): (given: Record<F, boolean>) => StatementSync {
  const prepared = new Map<string, StatementSync>()
  return (given) => {
    const filters = (Object.keys(given) as F[]).filter((filter) => given[filter])
    const name = filters.join(' ')
    let statement = prepared.get(name)
    if (statement === undefined) {
      statement = db.prepare(build(filters))
      prepared.set(name, statement)
    }
    return statement
  }
}
