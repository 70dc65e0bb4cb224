// The outbox on PostgreSQL, shared by any number of relay replicas: the SQLite store's semantics,
// method for method. Accepts that arrive together share one transaction (a batch commit); claims
// lease rows with FOR UPDATE SKIP LOCKED (Solid Queue, graphile-worker); every failure to reach
// or write the database surfaces as StoreUnavailableError, so ingest answers 503.
//
// Ordering under several replicas. A delivery with an ordering key is claimable only while no
// older delivery of its target and key is pending, so at most one delivery per chat is ever
// eligible, and it stays the only one until it finishes. Two things keep that true across
// processes, where SQLite's single writer kept it for free:
// - Accept locks each (target, ordering key) it writes (advisory, in hash order: no deadlock)
//   before taking ids. Ids are drawn from a sequence when inserted but become visible at commit;
//   without the lock, replica B could commit id 11 of a chat while A still holds id 10 uncommitted,
//   and a claim in between would send 11 first. With it, ids of one chat commit in id order.
// - Claims of one target take turns on an advisory lock, and the claim statement starts after
//   the lock is granted, so its snapshot holds every lease taken before it: the claims behave like
//   SQLite's serial ones. SKIP LOCKED then only steps over rows that a record or a replay
//   is writing at that moment, which makes the claim more cautious, never less. The lock is
//   held for one short SELECT ... UPDATE, never across a send.
import pg, { type PoolClient, type QueryResultRow } from 'pg'
import { chatOfFilter } from '../events/parse.ts'
import { partyOf, storedParties } from '../events/parties.ts'
import { type Clock, systemClock } from '../shared/clock.ts'
import { createBatchCommit } from './batch-commit.ts'
import { COMMIT_INTERVAL_MS } from './commit-interval.ts'
import { toConflictRow } from './conflicts.ts'
import { StoreUnavailableError } from './errors.ts'
import { postgresAdminSessions } from './postgres-admin-sessions.ts'
import { postgresAlerts } from './postgres-alerts.ts'
import { keepConflicts } from './postgres-conflicts.ts'
import { postgresDeadLetters } from './postgres-dead-letters.ts'
import { postgresEventSummaries } from './postgres-event-list.ts'
import { postgresHeartbeats } from './postgres-heartbeats.ts'
import { SQL } from './postgres-queries.ts'
import { LOCK_CLASS, migrate } from './postgres-schema.ts'
import { PURGE_TRAFFIC, postgresTrafficReads } from './postgres-stats.ts'
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
import { type BoundReads, type BoundsRow, boundsOf, type ProbeRow } from './time-range.ts'
import type {
  AcceptResult,
  AttemptOutcome,
  ConflictOutcome,
  DeliveryDecision,
  DeliveryStatus,
  NewEvent,
  OutboxStore,
} from './types.ts'
import { createWriteHealth } from './write-health.ts'

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database`; `?options=-c search_path=...` picks a schema. */
  url: string
  poolSize?: number
  /** How long to wait for a connection before failing (the ingest answers 503). */
  connectTimeoutMs?: number
  /** Server-side limit on one statement, lock waits included. */
  statementTimeoutMs?: number
  /** Told of errors on idle connections (server restart, network drop); the pool replaces them. */
  onIdleError?: (error: Error) => void
  /** Stamps each accepted event's received time; real time by default. */
  clock?: Pick<Clock, 'now'>
}

// Ids and epoch-millisecond times are bigint columns, all far below 2^53: read them as numbers.
const types = new pg.TypeOverrides()
types.setTypeParser(pg.types.builtins.INT8, Number)

const ignore = () => {}

// A read of several statements (a delivery, then its attempts) sees one state of the tables, so
// an attempt recorded in between does not show beside the delivery row from before it.
/** One attempt's outcome, as DeliveryStore.record takes it. */
interface Recorded {
  id: number
  decision: DeliveryDecision
  outcome: AttemptOutcome
}

const SNAPSHOT = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'

export async function openPostgresStore({
  url,
  poolSize = 10,
  connectTimeoutMs = 5000,
  statementTimeoutMs = 30_000,
  onIdleError,
  clock = systemClock,
}: PostgresStoreOptions): Promise<OutboxStore> {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: connectTimeoutMs,
    statement_timeout: statementTimeoutMs,
    // A replica stalled inside a transaction must not hold its locks for ever.
    idle_in_transaction_session_timeout: Math.max(statementTimeoutMs, 10_000),
    keepAlive: true,
    types,
  })
  pool.on('error', (error) => onIdleError?.(error))
  try {
    const client = await pool.connect()
    client.on('error', ignore)
    try {
      await migrate(client)
    } finally {
      client.off('error', ignore)
      client.release()
    }
  } catch (error) {
    await pool.end().catch(() => undefined)
    throw new StoreUnavailableError(error)
  }

  async function query<R extends QueryResultRow>(text: string, values: unknown[] = []) {
    try {
      return await pool.query<R>(text, values)
    } catch (error) {
      throw new StoreUnavailableError(error)
    }
  }

  async function transaction<T>(work: (client: PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    const client = await checkOut()
    try {
      await client.query(begin)
      const result = await work(client)
      await client.query('COMMIT')
      checkIn(client)
      return result
    } catch (error) {
      // A connection that cannot even roll back is broken: it leaves the pool.
      const rolledBack = await client.query('ROLLBACK').then(
        () => true,
        () => false,
      )
      checkIn(client, !rolledBack)
      throw new StoreUnavailableError(error)
    }
  }

  // The pool listens for errors of idle connections only; a connection that drops while checked
  // out also rejects its query, and its 'error' event must not go unheard (it would crash).
  async function checkOut(): Promise<PoolClient> {
    try {
      const client = await pool.connect()
      client.on('error', ignore)
      return client
    } catch (error) {
      throw new StoreUnavailableError(error)
    }
  }

  function checkIn(client: PoolClient, broken = false): void {
    client.off('error', ignore)
    client.release(broken)
  }

  const boundReads: BoundReads = {
    // Measured on 1,000,000 events: reading in seq order fetches each row from the heap, and a
    // delivery's event as well, where the bounds come from index entries alone.
    costs: { events: 1 / 4, deliveries: 1 / 8 },
    probe: async (from, to, delivery) =>
      (await query<ProbeRow>(SQL.timeRange, [from, to, delivery])).rows[0] as ProbeRow,
    seqs: async (from, to) => (await query<BoundsRow>(SQL.seqBounds, [from, to])).rows[0] as BoundsRow,
    ids: async (low, high) => (await query<BoundsRow>(SQL.idBounds, [low, high])).rows[0] as BoundsRow,
  }

  const accepts = createBatchCommit<NewEvent, AcceptResult>({
    commit: (events) => transaction((client) => insertEvents(client, events, clock.now())),
    intervalMs: COMMIT_INTERVAL_MS,
    // Invalid data (a NUL character PostgreSQL text cannot hold) fails its own request only.
    isolate: (error) => /^22/.test(String((error as { cause?: { code?: unknown } }).cause?.code)),
  })

  // Outcomes that complete while one is being written go together in the next statement.
  const records = createBatchCommit<Recorded, undefined>({
    intervalMs: COMMIT_INTERVAL_MS,
    async commit(batch) {
      const rows = batch.map(({ id, decision, outcome }) => {
        const { status, next } = decisionColumns(decision)
        const { started, duration, errorClass, error, excerpt, replica, http } = attemptColumns(outcome)
        return [id, replica, status, next, outcome.now, http, error, started, duration, errorClass, excerpt]
      })
      // One array per column, as the statement unnests them.
      await query(
        SQL.record,
        (rows[0] ?? []).map((_, column) => rows.map((row) => row[column])),
      )
      return batch.map(() => undefined)
    },
  })

  const health = createWriteHealth(clock)
  let closed = false

  const deadLetters = postgresDeadLetters(query)

  return {
    ...postgresAdminSessions(query),
    ...postgresHeartbeats(query, transaction),
    ...postgresAlerts(query, transaction),
    ...deadLetters,
    ...postgresTrafficReads(query),

    accept: (events) => health.watch(accepts.submit(events)),

    keepRefused(request, keep) {
      return transaction(async (client) => {
        await client.query(SQL.insertRefused, [
          request.receivedAt,
          request.reason,
          request.status,
          JSON.stringify(request.headers),
          request.body,
          request.bodySize,
        ])
        await client.query(SQL.trimRefused, [keep])
      })
    },

    claim({ target, limit, owner, now, leaseMs }) {
      return transaction(async (client) => {
        await client.query(SQL.lockClaims, [LOCK_CLASS.claim, target])
        const { rows } = await client.query(SQL.claim, [target, now, limit, owner, now + leaseMs])
        return rows.map((row) => toClaimed(row, row.body as Buffer))
      })
    },

    async record(id, decision, outcome) {
      await records.submit([{ id, decision, outcome }])
    },

    // Other replicas may be alive and sending what they leased, so a start frees nothing: the
    // leases of a replica that died are freed once its heartbeat falls silent
    // (postgres-heartbeats.ts), or run out on their own.
    recoverLeases: async () => 0,

    async release(ids, owner) {
      await query(SQL.release, [ids, owner])
    },

    async expedite(target, now, limit) {
      return (await query(SQL.expedite, [now, target, limit])).rowCount ?? 0
    },

    async nextDueAt(target) {
      const { rows } = await query<{ due: number | null }>(SQL.nextDue, [target])
      return rows[0]?.due ?? null
    },

    async newestEventDates() {
      const { rows } = await query<{ whatsapp_id: string; newest: string }>(SQL.sessionMarks)
      return new Map(rows.map((row) => [row.whatsapp_id, row.newest]))
    },

    async markSession(whatsappId, eventDate) {
      await query(SQL.markSessions, [[whatsappId], [eventDate]])
    },

    purge({ deliveredBefore, deadBefore, limit }) {
      return transaction(async (client) => {
        const delivered = await client.query(SQL.purgeDelivered, [deliveredBefore, limit])
        const dead = await client.query(SQL.purgeDead, [deadBefore, limit])
        // Traffic counts are kept as long as the events kept longest.
        await client.query(PURGE_TRAFFIC, [Math.min(deliveredBefore, deadBefore)])
        return (delivered.rowCount ?? 0) + (dead.rowCount ?? 0)
      })
    },

    async listEvents(filter) {
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
        newestFirst = false,
        beforeSeq,
        outcome,
        target,
        limit,
      } = filter
      const before = beforeSeq ?? Number.MAX_SAFE_INTEGER
      const after = afterSeq ?? 0
      const partyKey = party === undefined ? undefined : partyOf(party)
      if (partyKey === null) return []
      const range = newestFirst ? { after: 0, before, limit } : { after, limit }
      const bounds = await boundsOf(filter, { deliveries: false, ...range }, boundReads)
      if (bounds === 'empty') return []
      const statement =
        partyKey !== undefined
          ? SQL.listPartyEvents
          : outcome === 'dead'
            ? SQL.listDeadEvents
            : SQL.listEvents
      const { rows } = await query(statement(newestFirst), [
        newestFirst ? before : after,
        conforming ?? null,
        limit,
        whatsappId ?? null,
        action ?? null,
        receivedFrom ?? null,
        receivedBefore ?? null,
        chat === undefined ? null : chatOfFilter(chat),
        key ?? null,
        bounds?.low ?? null,
        bounds?.high ?? null,
        outcome ?? null,
        target ?? null,
        ...(partyKey === undefined ? [] : [partyKey]),
      ])
      return rows.map(toEventRow)
    },

    async listRefused({ afterId, newestFirst, beforeId, limit }) {
      const { rows } = newestFirst
        ? await query(SQL.listRefusedNewest, [beforeId ?? Number.MAX_SAFE_INTEGER, limit])
        : await query(SQL.listRefused, [afterId ?? 0, limit])
      return rows.map((row) => toRefusedRow(row, row.body as Buffer | null))
    },

    async listConflicts({ afterId, limit }) {
      const { rows } = await query(SQL.listConflicts, [afterId ?? Number.MAX_SAFE_INTEGER, limit])
      return rows.map((row) => toConflictRow(row, row.body as Buffer))
    },

    async listDeliveries(filter) {
      const { status, target, whatsappId, receivedFrom, receivedBefore, afterId, limit } = filter
      const { newestFirst = false, beforeId } = filter
      const before = beforeId ?? Number.MAX_SAFE_INTEGER
      const after = afterId ?? 0
      const range = newestFirst ? { after: 0, before, limit } : { after, limit }
      const bounds = await boundsOf(filter, { deliveries: true, ...range }, boundReads)
      if (bounds === 'empty') return []
      const { rows } = await query(SQL.listDeliveries(newestFirst), [
        status ?? null,
        target ?? null,
        newestFirst ? before : after,
        limit,
        whatsappId ?? null,
        receivedFrom ?? null,
        receivedBefore ?? null,
        bounds?.low ?? null,
        bounds?.high ?? null,
      ])
      return rows.map(toDeliveryRow)
    },

    async eventSummaries(seqs) {
      return postgresEventSummaries(query, seqs)
    },

    async getDelivery(id) {
      return transaction(async (client) => {
        const { rows } = await client.query(SQL.getDelivery, [id])
        if (rows[0] === undefined) return null
        const attempts = await client.query(SQL.attemptsOfDelivery, [id])
        const [delivery] = withAttempts([toDeliveryRow(rows[0])], attempts.rows.map(toAttemptRow))
        return delivery ?? null
      }, SNAPSHOT)
    },

    async getEvent(key) {
      return transaction(async (client) => {
        const { rows } = await client.query(SQL.getEvent, [key])
        const row = rows[0]
        if (row === undefined) return null
        const deliveries = await client.query(SQL.deliveriesOfEvent, [row.seq])
        const attempts = await client.query(SQL.attemptsOfEvent, [row.seq])
        const conflicts = await client.query(SQL.conflictsOfEvent, [row.seq])
        return {
          ...toEventRow(row),
          headers: headersOf(row),
          body: row.body as Buffer,
          deliveries: withAttempts(deliveries.rows.map(toDeliveryRow), attempts.rows.map(toAttemptRow)),
          conflicts: conflicts.rows.map((conflict) => toConflictRow(conflict, conflict.body as Buffer)),
        }
      }, SNAPSHOT)
    },

    // Every dead one of a target, and a filter's, go a chunk per statement.
    async replay(selector, now) {
      if ('dead' in selector) return deadLetters.replayDeadLetters(selector.dead, now)
      if ('target' in selector) return deadLetters.replayDeadLetters({ target: selector.target }, now)
      const result =
        'ids' in selector
          ? await query(SQL.replayIds, [now, selector.ids])
          : await query(SQL.replayEvent, [now, selector.eventKey, selector.status ?? null])
      return { replayed: result.rowCount ?? 0 }
    },

    async countDeliveries() {
      const { rows } = await query<{ target: string; status: DeliveryStatus; count: number }>(
        SQL.countDeliveries,
      )
      return rows
    },

    async backlog() {
      const { rows } = await query<{ target: string; pending: number; oldest: number }>(SQL.backlog)
      return new Map(rows.map((row) => [row.target, { pending: row.pending, oldestReceivedAt: row.oldest }]))
    },

    async countReceivedSince(since) {
      const { rows } = await query<{ count: number }>(SQL.countReceivedSince, [since])
      return rows[0]?.count ?? 0
    },

    // Under the target's claim lock: a claim under way on any replica commits first, and every
    // claim after this one sees the pause.
    setPaused(target, paused, now) {
      return transaction(async (client) => {
        await client.query(SQL.lockClaims, [LOCK_CLASS.claim, target])
        await client.query(SQL.setPaused, [target, paused ? now : null])
      })
    },

    async pausedTargets() {
      const { rows } = await query<{ target: string; paused_at: number }>(SQL.pausedTargets)
      return new Map(rows.map((row) => [row.target, row.paused_at]))
    },

    async readStream(target, afterId, limit) {
      return (await query<{ id: number; body: Buffer }>(SQL.readStream, [target, afterId, limit])).rows
    },

    async streamHead(target) {
      return (await query<{ head: number }>(SQL.streamHead, [target])).rows[0]?.head ?? 0
    },

    // The head only grows: read first, it is still a bound when the position is kept.
    async confirmStream(target, position, now) {
      const head = (await query<{ head: number }>(SQL.streamHead, [target])).rows[0]?.head ?? 0
      const { rows } = await query<{ position: number }>(SQL.keepStreamPosition, [
        target,
        Math.min(position, head),
        now,
      ])
      return rows[0]?.position ?? 0
    },

    async markStreamDelivered(target, upTo, now, limit) {
      const { rows } = await query<{ marked: number }>(SQL.markStreamDelivered, [target, upTo, now, limit])
      return rows[0]?.marked ?? 0
    },

    async streamPosition(target) {
      const { rows } = await query<{ position: number }>(SQL.streamPosition, [target])
      return rows[0]?.position ?? 0
    },

    // A real write: a read passes on a full disk or a read-only database (write-health.ts).
    ping() {
      return health.check(() => query(SQL.probe, [clock.now()]))
    },

    async close() {
      // Let queued accepts commit first: they have callers waiting to answer.
      await accepts.drain()
      if (closed) return
      closed = true
      await pool.end()
    },
  }
}

async function insertEvents(client: PoolClient, events: NewEvent[], now: number): Promise<AcceptResult[]> {
  const lanes = new Set<string>()
  for (const event of events) {
    for (const { target, orderingKey } of event.deliveries) {
      if (orderingKey !== null) lanes.add(JSON.stringify([target, orderingKey]))
    }
  }
  if (lanes.size > 0) await client.query(SQL.lockLanes, [LOCK_CLASS.order, [...lanes]])
  const { rows } = await client.query<{ seq: number; key: string }>(SQL.insertEvents, [
    events.map((e) => e.key),
    events.map((e) => e.whatsappId),
    events.map((e) => e.eventId),
    events.map((e) => e.action),
    events.map((e) => e.eventDate),
    events.map((e) => e.chat),
    events.map((e) => headersColumn(e.headers)),
    events.map((e) => e.body),
    events.map((e) => issuesColumn(e.issues)),
    now,
    ...partyColumns(events),
  ])
  const inserted = new Map(rows.map((row) => [row.key, row.seq]))
  const deliveries = {
    seqs: [] as number[],
    targets: [] as string[],
    orderingKeys: [] as (string | null)[],
    leaseOwners: [] as (string | null)[],
    leaseExpiries: [] as (number | null)[],
  }
  // Of the deliveries of one lane in this batch only the first may be leased: the statement's
  // check for an older pending one cannot see the rows it writes itself.
  const lanesAsked = new Set<string>()
  const seqs: (number | undefined)[] = events.map((event) => {
    const seq = inserted.get(event.key)
    if (seq === undefined) return undefined
    // A key twice in one batch: the first one was inserted, the others are its duplicates.
    inserted.delete(event.key)
    for (const { target, orderingKey, lease } of event.deliveries) {
      const lane = orderingKey === null ? null : JSON.stringify([target, orderingKey])
      const asked = lease !== undefined && (lane === null || !lanesAsked.has(lane))
      if (lane !== null && lease !== undefined) lanesAsked.add(lane)
      deliveries.seqs.push(seq)
      deliveries.targets.push(target)
      deliveries.orderingKeys.push(orderingKey)
      deliveries.leaseOwners.push(asked ? lease.owner : null)
      deliveries.leaseExpiries.push(asked ? lease.expiresAt : null)
    }
    return seq
  })
  const duplicates = events.filter((event, i) => seqs[i] === undefined && event.headers !== null)
  const conflicts = duplicates.length > 0 ? await keepConflicts(client, duplicates, now) : []
  const conflictOf = new Map<NewEvent, ConflictOutcome | null>(
    duplicates.map((e, i) => [e, conflicts[i] ?? null]),
  )
  const marked = events.filter((_event, i) => seqs[i] !== undefined)
  if (marked.length > 0) {
    await client.query(SQL.markSessions, [marked.map((e) => e.whatsappId), marked.map((e) => e.eventDate)])
  }
  const leased = new Map<number, { target: string; id: number }[]>()
  if (deliveries.seqs.length > 0) {
    const written = await client.query<{ id: number; seq: number; target: string; leased: boolean }>(
      SQL.insertDeliveries,
      [
        deliveries.seqs,
        deliveries.targets,
        deliveries.orderingKeys,
        now,
        deliveries.leaseOwners,
        deliveries.leaseExpiries,
      ],
    )
    for (const { id, seq, target } of written.rows.filter((row) => row.leased)) {
      leased.set(seq, [...(leased.get(seq) ?? []), { target, id }])
    }
  }
  return events.map((event, i) => {
    const seq = seqs[i]
    if (seq === undefined) {
      const conflict = conflictOf.get(event)
      return conflict ? { key: event.key, inserted: false, conflict } : { key: event.key, inserted: false }
    }
    return { key: event.key, inserted: true, receivedAt: now, leased: leased.get(seq) ?? [] }
  })
}

/** The parties of each key's first event in a batch, as insertEvents takes them: keys, parties. */
function partyColumns(events: NewEvent[]): [string[], string[]] {
  const keys: string[] = []
  const parties: string[] = []
  const seen = new Set<string>()
  for (const { key, parties: ofEvent, chat } of events) {
    if (seen.has(key)) continue
    seen.add(key)
    for (const party of storedParties(ofEvent, chat)) {
      keys.push(key)
      parties.push(party)
    }
  }
  return [keys, parties]
}
