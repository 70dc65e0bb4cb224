// The admin benchmark's outbox on PostgreSQL (BENCH_DATABASE_URL): the rows of outbox-seed.ts in
// a fresh schema of that database, written in batches as arrays, after the relay's store has
// migrated the schema; indexes built at the end, then VACUUM ANALYZE, as autovacuum would leave a
// table that has had time to settle (statistics, and the visibility map index-only scans need).
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { POSTGRES_TRAFFIC_BACKFILL } from '../../src/store/postgres-stats.ts'
import { openPostgresStore } from '../../src/store/postgres-store.ts'
import {
  NONCONFORMING_ISSUES,
  type SeedCounts,
  type SeedResult,
  type SeedRow,
  seedRows,
} from './outbox-seed.ts'

export interface SeededSchema extends SeedResult {
  /** BENCH_DATABASE_URL pointed at the schema (what the relay gets as DATABASE_URL). */
  url: string
  drop(): Promise<void>
}

const BATCH = 5000

export async function seedPostgresOutbox(
  baseUrl: string,
  count: number,
  endAt: number,
  spanDays = 6,
): Promise<SeededSchema> {
  const started = performance.now()
  const schema = `bench_admin_${randomBytes(4).toString('hex')}`
  const url = new URL(baseUrl)
  url.searchParams.set('options', `-c search_path=${schema}`)
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  const drop = async () => {
    const admin = new pg.Client({ connectionString: baseUrl })
    await admin.connect()
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => admin.end())
  }
  try {
    await client.query(`CREATE SCHEMA ${schema}`)
    await (await openPostgresStore({ url: url.toString() })).close()
    const { rows: indexes } = await client.query<{ name: string; definition: string }>(`
      SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
      WHERE t.relname IN ('events', 'event_parties', 'deliveries', 'attempts') AND t.relnamespace = '${schema}'::regnamespace
        AND NOT i.indisprimary AND NOT i.indisunique`)
    for (const { name } of indexes) await client.query(`DROP INDEX ${name}`)

    const counts: SeedCounts = { events: 0, deliveries: 0, dead: 0, pending: 0, attempts: 0 }
    let events: SeedRow[] = []
    for (const row of seedRows(count, endAt, spanDays, counts)) {
      events.push(row)
      if (events.length === BATCH) {
        await writeBatch(client, events)
        events = []
      }
    }
    if (events.length > 0) await writeBatch(client, events)

    const indexStarted = performance.now()
    for (const { definition } of indexes) await client.query(definition)
    await client.query(`
      SELECT setval(pg_get_serial_sequence('events', 'seq'), (SELECT max(seq) FROM events));
      SELECT setval(pg_get_serial_sequence('deliveries', 'id'), (SELECT max(id) FROM deliveries));
      INSERT INTO session_marks SELECT whatsapp_id, max(event_date) FROM events GROUP BY whatsapp_id
      ON CONFLICT (whatsapp_id) DO UPDATE SET newest_event_date = excluded.newest_event_date`)
    // The traffic counts, as the migration makes them for an outbox that had none.
    await client.query(POSTGRES_TRAFFIC_BACKFILL)
    for (const table of ['events', 'event_parties', 'deliveries', 'attempts', 'traffic_minutes'])
      await client.query(`VACUUM ANALYZE ${table}`)
    const now = performance.now()
    return {
      ...counts,
      seconds: (now - started) / 1000,
      indexSeconds: (now - indexStarted) / 1000,
      url: url.toString(),
      drop,
    }
  } catch (error) {
    await drop().catch(() => undefined)
    throw error
  } finally {
    await client.end()
  }
}

async function writeBatch(client: pg.Client, rows: SeedRow[]): Promise<void> {
  const events = rows.map((row) => row.event)
  const deliveries = rows.flatMap((row) => row.deliveries.map((d) => ({ ...d, seq: row.event.id })))
  const attempts = deliveries.flatMap((d) => (d.attempt ? [{ ...d.attempt, id: d.id }] : []))
  const parties = rows.flatMap((row) => row.parties.map((party) => [row.event.id, party] as const))
  await client.query('BEGIN')
  await client.query(
    `INSERT INTO events (seq, key, whatsapp_id, event_id, action, event_date, chat, body, issues, received_at)
     OVERRIDING SYSTEM VALUE
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                          $8::bytea[], $9::text[], $10::bigint[])`,
    [
      events.map((e) => e.id),
      events.map((e) => e.key),
      events.map((e) => e.session),
      events.map((e) => String(e.id)),
      events.map((e) => e.action),
      events.map((e) => e.eventDate),
      events.map((e) => e.chat),
      rows.map((row) => row.body),
      events.map((e) => (e.conforming ? null : NONCONFORMING_ISSUES)),
      events.map((e) => e.receivedAt),
    ],
  )
  await client.query(
    'INSERT INTO event_parties (seq, party) SELECT * FROM unnest($1::bigint[], $2::text[])',
    [parties.map(([seq]) => seq), parties.map(([, party]) => party)],
  )
  await client.query(
    `INSERT INTO deliveries (id, event_seq, target, status, attempts, next_attempt_at, last_status, last_error,
                             ordering_key, finished_at, last_error_class)
     OVERRIDING SYSTEM VALUE
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::integer[], $6::bigint[],
                          $7::integer[], $8::text[], $9::text[], $10::bigint[], $11::text[])`,
    [
      deliveries.map((d) => d.id),
      deliveries.map((d) => d.seq),
      deliveries.map((d) => d.target),
      deliveries.map((d) => d.status),
      deliveries.map((d) => d.attempts),
      deliveries.map((d) => d.nextAttemptAt),
      deliveries.map((d) => d.lastStatus),
      deliveries.map((d) => d.lastError),
      deliveries.map((d) => d.lane),
      deliveries.map((d) => d.finishedAt),
      deliveries.map((d) => d.attempt?.errorClass ?? null),
    ],
  )
  await client.query(
    `INSERT INTO attempts (delivery_id, started_at, duration_ms, status, error_class, error, response_excerpt, replica)
     SELECT *, 'bench-seed' FROM unnest($1::bigint[], $2::bigint[], $3::integer[], $4::integer[], $5::text[],
                                        $6::text[], $7::text[])`,
    [
      attempts.map((a) => a.id),
      attempts.map((a) => a.startedAt),
      attempts.map((a) => a.durationMs),
      attempts.map((a) => a.status),
      attempts.map((a) => a.errorClass),
      attempts.map((a) => a.error),
      attempts.map((a) => a.excerpt),
    ],
  )
  await client.query('COMMIT')
}
