// An outbox filled as six days of traffic would leave it, for the admin benchmark: events of 20
// sessions and 200 chats (every tenth a group), mostly messages and acks, a few session events
// (ready, disconnect, error) and 1% non-conforming bodies, each with its deliveries delivered,
// dead or (the newest) still pending, and one attempt per finished delivery. The rows are made
// here; seedSqliteOutbox writes them straight into a relay's SQLite file (postgres-seed.ts into
// PostgreSQL) after the relay's store has opened it once, so the schema is the relay's, migrated.
import { DatabaseSync } from 'node:sqlite'
import { partiesOf, storedParties } from '../../src/events/parties.ts'
import { SQL } from '../../src/store/sqlite-queries.ts'
import { SQLITE_TRAFFIC_BACKFILL } from '../../src/store/sqlite-stats.ts'
import { openSqliteStore } from '../../src/store/sqlite-store.ts'

export const SEED_SESSIONS = 20
export const SEED_CHATS = 200
/** crm takes every event, analytics the messages, audit the session events (a rare target). */
export const SEED_TARGETS = { all: 'crm', messages: 'analytics', sessionEvents: 'audit' } as const
const DAY_MS = 24 * 60 * 60 * 1000
export const NONCONFORMING_ISSUES = JSON.stringify([
  { path: 'event_date', message: 'expected "YYYY-MM-DD HH:MM:SS"' },
])

export const seedSession = (n: number) => `bench${String(n % SEED_SESSIONS).padStart(2, '0')}a9238`
export const seedPhone = (n: number) => `7999${String(n % SEED_CHATS).padStart(7, '0')}`

/** Chat n: every tenth a group, the others one-to-one chats with a phone number. */
export function seedChat(n: number): string {
  const c = n % SEED_CHATS
  return c % 10 === 9 ? `1203630252461${String(c).padStart(5, '0')}@g.us` : `${seedPhone(c)}@c.us`
}

/** A well-spread, repeatable number in [0, 1) for i and a salt. */
function spread(i: number, salt: number): number {
  return (Math.imul(i ^ salt, 2654435761) >>> 0) / 2 ** 32
}

export interface SeededEvent {
  /** WhatsGate's id, and the event's seq. */
  id: number
  session: string
  action: string
  /** Null for session events. */
  chat: string | null
  conforming: boolean
  receivedAt: number
  /** `YYYY-MM-DD HH:MM:SS`, as the relay files it. */
  eventDate: string
  key: string
}

export interface SeededAttempt {
  startedAt: number
  durationMs: number
  status: number | null
  errorClass: 'http' | 'connection' | null
  error: string | null
  excerpt: string | null
}

export interface SeededDelivery {
  id: number
  target: string
  status: 'pending' | 'delivered' | 'dead'
  attempts: number
  nextAttemptAt: number
  lastStatus: number | null
  lastError: string | null
  lane: string | null
  finishedAt: number | null
  attempt: SeededAttempt | null
}

const SESSION_ACTIONS = ['ready', 'disconnect', 'error']

/** `YYYY-MM-DD HH:MM:SS` (UTC) of a time, as WhatsGate writes event_date. */
const wallClock = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ')

/** Event i (1-based) of `count`, received evenly over `spanMs` up to `endAt`. */
export function seededEvent(i: number, count: number, endAt: number, spanMs: number): SeededEvent {
  const r = spread(i, 0x5eed)
  const receivedAt = endAt - spanMs + Math.floor((i * spanMs) / count)
  const eventDate = wallClock(receivedAt)
  const c = Math.floor(spread(i, 0xc4a7) * SEED_CHATS)
  const sessionEvent = r < 0.003
  const session = seedSession(sessionEvent ? i : c)
  const action = sessionEvent
    ? (SESSION_ACTIONS[i % 3] as string)
    : r < 0.55
      ? 'message'
      : r < 0.8
        ? 'ack'
        : r < 0.88
          ? 'sent'
          : 'create'
  const chat = sessionEvent ? null : seedChat(c)
  const conforming = sessionEvent || spread(i, 0xbad) >= 0.01
  return { id: i, session, action, chat, conforming, receivedAt, eventDate, key: `${session}:${action}:${i}` }
}

/** The body WhatsGate would send; a non-conforming one carries an ISO event_date. */
export function seededBody(event: SeededEvent): string {
  const date = event.conforming ? event.eventDate : new Date(event.receivedAt).toISOString().slice(0, 19)
  const head = `{"id":${event.id},"whatsapp_id":"${event.session}","event_action":"${event.action}","event_date":"${date}","status_code":null,"event_data":`
  if (event.chat === null) {
    const data =
      event.action === 'ready'
        ? '{"pushname":"bench","number":"79990000000","id":"79990000000@c.us"}'
        : event.action === 'disconnect'
          ? '{"reason":"Client disconnected"}'
          : '{"error":"Specified number not in your contact list"}'
    return `${head}${data}}`
  }
  const fromMe = event.action === 'create' || event.action === 'sent'
  const messageId = event.id.toString(16).toUpperCase().padStart(20, '0')
  const participant = event.chat.endsWith('@g.us') ? `_${seedPhone(event.id)}@c.us` : ''
  const [from, to] = fromMe ? ['79990000000@c.us', event.chat] : [event.chat, '79990000000@c.us']
  return (
    `${head}{"message":{"_id":"${messageId}","id":"${fromMe}_${event.chat}_${messageId}${participant}",` +
    `"ack":${event.action === 'ack' ? 3 : 1},"hasMedia":false,"mediaKey":"","body":"seeded message ${event.id}",` +
    `"type":"chat","timestamp":${Math.floor(event.receivedAt / 1000)},"from":"${from}","to":"${to}","isForwarded":false}}}`
  )
}

export interface SeedRow {
  event: SeededEvent
  body: Buffer
  /** As the relay stores them: partiesOf the body, the chat's among them. */
  parties: readonly string[]
  deliveries: SeededDelivery[]
}

export interface SeedCounts {
  events: number
  deliveries: number
  dead: number
  pending: number
  attempts: number
}

/**
 * Every event with its deliveries, in seq order. The newest 0.2% are still pending; of the rest,
 * 3% of analytics deliveries, 0.2% of crm and 10% of audit are dead (8 attempts, the last kept).
 */
export function* seedRows(
  count: number,
  endAt: number,
  spanDays: number,
  counts: SeedCounts,
): Generator<SeedRow> {
  const spanMs = spanDays * DAY_MS
  const pendingFrom = Math.floor(count * 0.998)
  let nextId = 1
  for (let i = 1; i <= count; i++) {
    const event = seededEvent(i, count, endAt, spanMs)
    const deliveries: SeededDelivery[] = []
    const deliver = (target: string, lane: string | null, deadShare: number) => {
      const id = nextId++
      const at = event.receivedAt
      const base = { id, target, nextAttemptAt: at, lane }
      if (i > pendingFrom) {
        counts.pending++
        deliveries.push({
          ...base,
          status: 'pending',
          attempts: 0,
          lastStatus: null,
          lastError: null,
          finishedAt: null,
          attempt: null,
        })
        return
      }
      counts.attempts++
      if (spread(id, 0xdead) < deadShare) {
        counts.dead++
        const refused = id % 2 === 0
        const error = refused ? 'connect ECONNREFUSED 10.0.0.7:443' : 'HTTP 500'
        const lastStatus = refused ? null : 500
        const finishedAt = at + 3 * 3_600_000
        const attempt: SeededAttempt = {
          startedAt: finishedAt - 30,
          durationMs: 30,
          status: lastStatus,
          errorClass: refused ? 'connection' : 'http',
          error,
          excerpt: refused ? null : '{"error":"internal"}',
        }
        deliveries.push({
          ...base,
          status: 'dead',
          attempts: 8,
          lastStatus,
          lastError: error,
          finishedAt,
          attempt,
        })
        return
      }
      const attempt: SeededAttempt = {
        startedAt: at + 5,
        durationMs: 35,
        status: 200,
        errorClass: null,
        error: null,
        excerpt: '{"ok":true}',
      }
      deliveries.push({
        ...base,
        status: 'delivered',
        attempts: 1,
        lastStatus: 200,
        lastError: null,
        finishedAt: at + 40,
        attempt,
      })
    }
    deliver(SEED_TARGETS.all, event.chat === null ? event.session : `${event.session}/${event.chat}`, 0.002)
    if (event.action === 'message') deliver(SEED_TARGETS.messages, null, 0.03)
    if (event.chat === null) deliver(SEED_TARGETS.sessionEvents, null, 0.1)
    counts.events++
    counts.deliveries += deliveries.length
    const body = seededBody(event)
    const parties = storedParties(partiesOf(JSON.parse(body), event.chat), event.chat)
    yield { event, body: Buffer.from(body), parties, deliveries }
  }
}

export interface SeedResult extends SeedCounts {
  seconds: number
  /** Seconds of the total spent building the indexes. */
  indexSeconds: number
}

/** Fills a fresh SQLite outbox at `path` with `count` events received over the `spanDays` before `endAt`. */
export async function seedSqliteOutbox(
  path: string,
  count: number,
  endAt: number,
  spanDays = 6,
): Promise<SeedResult> {
  const started = performance.now()
  await openSqliteStore({ path }).close()
  const db = new DatabaseSync(path)
  try {
    db.exec('PRAGMA synchronous = OFF; PRAGMA cache_size = -262144')
    // Built once at the end, from sorted keys: several times faster than row by row.
    const indexes = db
      .prepare(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('events', 'event_parties', 'deliveries', 'attempts')",
      )
      .all() as { name: string; sql: string }[]
    for (const { name } of indexes) db.exec(`DROP INDEX ${name}`)
    // The relay's own insert, so a change of its columns shows here.
    const insertEvent = db.prepare(SQL.insertEvents)
    const insertParty = db.prepare(SQL.insertParty)
    const insertDelivery = db.prepare(`
      INSERT INTO deliveries (id, event_seq, target, status, attempts, next_attempt_at, last_status, last_error,
                              ordering_key, finished_at, last_error_class)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    const insertAttempt = db.prepare(`
      INSERT INTO attempts (delivery_id, started_at, duration_ms, status, error_class, error, response_excerpt, replica)
      VALUES (?, ?, ?, ?, ?, ?, ?, 'bench-seed')`)
    const counts: SeedCounts = { events: 0, deliveries: 0, dead: 0, pending: 0, attempts: 0 }
    db.exec('BEGIN')
    for (const { event, body, parties, deliveries } of seedRows(count, endAt, spanDays, counts)) {
      const row = insertEvent.get(
        event.key,
        event.session,
        String(event.id),
        event.action,
        event.eventDate,
        event.chat,
        // No headers: as a backfilled event has none.
        null,
        body,
        event.conforming ? null : NONCONFORMING_ISSUES,
        event.receivedAt,
      )
      for (const party of parties) insertParty.run(Number(row?.seq), party)
      for (const d of deliveries) {
        insertDelivery.run(
          d.id,
          Number(row?.seq),
          d.target,
          d.status,
          d.attempts,
          d.nextAttemptAt,
          d.lastStatus,
          d.lastError,
          d.lane,
          d.finishedAt,
          d.attempt?.errorClass ?? null,
        )
        const a = d.attempt
        if (a) insertAttempt.run(d.id, a.startedAt, a.durationMs, a.status, a.errorClass, a.error, a.excerpt)
      }
      if (event.id % 50_000 === 0) db.exec('COMMIT; BEGIN')
    }
    db.exec('COMMIT')
    const indexStarted = performance.now()
    db.exec('BEGIN')
    for (const { sql } of indexes) db.exec(sql)
    db.exec(`INSERT INTO session_marks SELECT whatsapp_id, max(event_date) FROM events GROUP BY whatsapp_id
             ON CONFLICT (whatsapp_id) DO UPDATE SET newest_event_date = excluded.newest_event_date`)
    // The traffic counts, as the migration makes them for an outbox that had none.
    db.exec(SQLITE_TRAFFIC_BACKFILL)
    db.exec('COMMIT')
    db.exec('PRAGMA wal_checkpoint(TRUNCATE)')
    const now = performance.now()
    return { ...counts, seconds: (now - started) / 1000, indexSeconds: (now - indexStarted) / 1000 }
  } finally {
    db.close()
  }
}
