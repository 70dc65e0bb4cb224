// What only the PostgreSQL store does: several relay replicas, each with a pool of its own, on
// one schema. They migrate together, accept the same events, and claim side by side without ever
// sending one delivery twice or two of one chat at once.
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { STREAM_LANE } from '../../src/delivery/routing.ts'
import { StoreUnavailableError } from '../../src/store/errors.ts'
import { openStore } from '../../src/store/open-store.ts'
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-schema.ts'
import { openPostgresStore } from '../../src/store/postgres-store.ts'
import type { OutboxStore } from '../../src/store/types.ts'
import { outcome } from '../support/attempts.ts'
import { captureLogger } from '../support/fake-whatsgate.ts'
import {
  DELIVERED,
  outboxEvent as event,
  eventKey,
  keysOf,
  MINUTE,
  sortCounts,
  stored,
} from '../support/outbox.ts'
import { freshSchema, postgresSkipReason, type TestSchema, withAdmin } from '../support/postgres.ts'
import { startProxy } from '../support/tcp-proxy.ts'

const title = `postgres store: replicas on one database${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`

describe.skipIf(postgresSkipReason !== null)(title, () => {
  let schema: TestSchema
  const stores: OutboxStore[] = []
  beforeEach(async () => {
    schema = await freshSchema('outbox_replicas')
  })
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()))
    await schema.drop()
  })

  /** One replica's store: a pool of its own on the shared schema, its sessions named `name`. */
  async function replica(name = 'relay'): Promise<OutboxStore> {
    const url = new URL(schema.url)
    url.searchParams.set('application_name', name)
    const store = await openPostgresStore({ url: url.toString(), onIdleError: () => {} })
    stores.push(store)
    return store
  }

  it('fails to open with StoreUnavailableError when nothing listens, within the connect timeout', async () => {
    const closed = await startProxy('127.0.0.1', 5432)
    await closed.stop()
    const started = Date.now()
    const opening = openPostgresStore({
      url: `postgres://postgres@127.0.0.1:${closed.port}/test`,
      connectTimeoutMs: 1000,
    })
    await expect(opening).rejects.toBeInstanceOf(StoreUnavailableError)
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('logs an idle connection the server cut in one short line, and goes on with a new one', async () => {
    const url = new URL(schema.url)
    url.searchParams.set('application_name', 'relay_cut')
    const { log, lines, entries } = captureLogger()
    const store = await openStore({ databaseUrl: url.toString(), sqlitePath: '', log })
    stores.push(store)
    await store.accept([event(1)])
    const cut = await withAdmin((client) =>
      client.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'relay_cut'",
      ),
    )
    expect(cut.rowCount).toBeGreaterThan(0)
    await vi.waitFor(() =>
      expect(entries().map((entry) => entry.msg)).toContain(
        'a PostgreSQL connection failed; it will be replaced',
      ),
    )
    expect(entries()[0]).toMatchObject({
      code: '57P01',
      reason: 'terminating connection due to administrator command',
    })
    expect(lines[0]?.length).toBeLessThan(400)
    await expect(store.accept([event(2)])).resolves.toMatchObject([{ inserted: true }])
  })

  it('migrates once when replicas start together, and opening again changes nothing', async () => {
    const [a, b, c] = await Promise.all([replica(), replica(), replica()])
    await a?.accept([event(1)])
    await replica()
    const versions = await withAdmin((client) =>
      client.query(`SELECT version FROM ${schema.name}.relay_migrations ORDER BY version`),
    )
    expect(versions.rows).toEqual(POSTGRES_MIGRATIONS.map((_sql, i) => ({ version: i + 1 })))
    expect(keysOf(await b?.listDeliveries({ limit: 10 }))).toEqual([eventKey(1)])
    await c?.ping()
  })

  it('upgrades a database of the third schema: the unused index goes, routed becomes optional, rows stay', async () => {
    const now = Date.now()
    await withAdmin(async (client) => {
      await client.query(`SET search_path = ${schema.name}`)
      await client.query(
        'CREATE TABLE relay_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)',
      )
      for (const [i, migration] of POSTGRES_MIGRATIONS.slice(0, 3).entries()) {
        await client.query(migration)
        await client.query('INSERT INTO relay_migrations VALUES ($1, $2)', [i + 1, now])
      }
      for (const id of [1, 2]) {
        const { rows } = await client.query(
          `INSERT INTO events (key, whatsapp_id, event_id, action, event_date, body, received_at, routed)
           VALUES ($1, 's', $2, 'message', '2024-01-01 10:00:00', $3, $4, 1) RETURNING seq`,
          [eventKey(id), String(id), Buffer.from(`{"id":${id}}`), now],
        )
        await client.query(
          `INSERT INTO deliveries (event_seq, target, next_attempt_at, ordering_key) VALUES ($1, 'a', $2, 'x')`,
          [rows[0]?.seq, now],
        )
      }
    })
    const dropped = () =>
      withAdmin(async (client) => {
        const columns = await client.query(
          `SELECT 1 FROM information_schema.columns
           WHERE table_schema = $1 AND table_name = 'events' AND column_name = 'routed' AND is_nullable = 'NO'`,
          [schema.name],
        )
        const indexes = await client.query(
          `SELECT 1 FROM pg_indexes WHERE schemaname = $1 AND indexname = 'events_session_date'`,
          [schema.name],
        )
        return { routed: columns.rowCount === 1, sessionDateIndex: indexes.rowCount === 1 }
      })
    expect(await dropped()).toEqual({ routed: true, sessionDateIndex: true })

    const store = await replica()
    expect(await dropped()).toEqual({ routed: false, sessionDateIndex: false })
    expect(await store.accept([event(3, { chat: 'x' })])).toEqual([stored(eventKey(3))])
    // A replica of the previous version, still running during a rolling deploy, still writes routed.
    await withAdmin(async (client) => {
      await client.query(`SET search_path = ${schema.name}`)
      await client.query(
        `INSERT INTO events (key, whatsapp_id, event_id, action, event_date, body, received_at, routed)
         VALUES ($1, 's', '9', 'message', '2024-01-01 10:00:00', $2, $3, 1)`,
        [eventKey(9), Buffer.from('{"id":9}'), now],
      )
    })
    const [first] = await store.claim({ target: 'a', limit: 10, owner: 'w', now, leaseMs: MINUTE })
    expect(first).toMatchObject({ eventKey: eventKey(1), body: Buffer.from('{"id":1}') })
    await store.record(first?.id as number, DELIVERED, outcome({ owner: 'w', now }))
    expect(keysOf(await store.claim({ target: 'a', limit: 10, owner: 'w', now, leaseMs: MINUTE }))).toEqual([
      eventKey(2),
    ])
  })

  it('recoverLeases frees nothing: the lease holder may be a replica that is alive', async () => {
    const [a, b] = await Promise.all([replica(), replica()])
    await a.accept([event(1)])
    const now = Date.now()
    expect(await a.claim({ target: 'a', limit: 1, owner: 'replica-a', now, leaseMs: MINUTE })).toHaveLength(1)
    expect(await b.recoverLeases()).toBe(0)
    expect(await b.claim({ target: 'a', limit: 1, owner: 'replica-b', now, leaseMs: MINUTE })).toEqual([])
  })

  it('a pause taken on one replica holds on another: once it commits, no claim there hands anything out', async () => {
    const [a, b] = await Promise.all([replica(), replica()])
    await a.accept(Array.from({ length: 30 }, (_, i) => event(i + 1)))
    const now = Date.now()
    // Replica b claims one at a time while replica a pauses the target.
    let claimed = 0
    let paused = false
    const claiming = (async () => {
      while (!paused) {
        claimed += (await b.claim({ target: 'a', limit: 1, owner: 'replica-b', now, leaseMs: MINUTE })).length
      }
    })()
    await a.setPaused('a', true, now)
    paused = true
    await claiming
    const after = await b.claim({ target: 'a', limit: 100, owner: 'replica-b', now, leaseMs: MINUTE })
    expect(after).toEqual([])
    expect(await b.pausedTargets()).toEqual(new Map([['a', now]]))
    const pending = await b.listDeliveries({ status: 'pending', target: 'a', limit: 100 })
    expect(pending).toHaveLength(30)

    await b.setPaused('a', false, now)
    const rest = await a.claim({ target: 'a', limit: 100, owner: 'replica-a', now, leaseMs: MINUTE })
    // Nothing claimed before the pause is handed out twice; nothing else is lost.
    expect(rest).toHaveLength(30 - claimed)
    expect(keysOf(rest)).toEqual(keysOf(pending).slice(claimed))
  })

  it('takes the same events from two replicas at once: each key is written by exactly one', async () => {
    const [a, b] = await Promise.all([replica(), replica()])
    const ids = Array.from({ length: 40 }, (_, i) => i)
    const results = await Promise.all(
      ids.flatMap((id) => [a.accept([event(id, { chat: 'x' })]), b.accept([event(id, { chat: 'x' })])]),
    )
    const inserted = results.flat().filter((r) => r.inserted)
    expect(inserted.map((r) => r.key).sort()).toEqual(ids.map((id) => eventKey(id)).sort())
    expect(await a.listDeliveries({ limit: 100 })).toHaveLength(40)
  })

  it('claims from two replicas at once: each delivery once, one at a time per chat, each chat in order', async () => {
    const [a, b] = await Promise.all([replica(), replica()])
    const chatOf = new Map<string, string | null>()
    const accepts: Promise<unknown>[] = []
    for (let id = 0; id < 90; id++) {
      const chat = id % 10 === 9 ? null : `chat-${id % 6}`
      chatOf.set(eventKey(id), chat)
      accepts.push((id % 2 ? a : b).accept([event(id, { chat })]))
    }
    await Promise.all(accepts)
    // The order each chat must go out in: the order of its deliveries' ids.
    const expected = new Map<string, string[]>()
    for (const row of await a.listDeliveries({ limit: 1000 })) {
      const chat = chatOf.get(row.eventKey)
      if (chat) expected.set(chat, [...(expected.get(chat) ?? []), row.eventKey])
    }

    const sends = new Map<number, number>()
    const sentInOrder = new Map<string, string[]>()
    const inFlight = new Map<string, number>()
    const overlaps: string[] = []
    const deadline = Date.now() + 20_000
    const worker = async (store: OutboxStore, owner: string) => {
      while (sends.size < chatOf.size) {
        if (Date.now() > deadline) throw new Error(`${owner}: deliveries still pending after 20 s`)
        const claimed = await store.claim({ target: 'a', limit: 3, owner, now: Date.now(), leaseMs: MINUTE })
        if (claimed.length === 0) await sleep(2)
        await Promise.all(
          claimed.map(async (delivery) => {
            sends.set(delivery.id, (sends.get(delivery.id) ?? 0) + 1)
            const chat = chatOf.get(delivery.eventKey)
            if (chat) {
              if (inFlight.has(chat)) overlaps.push(`${chat}: ${inFlight.get(chat)} and ${delivery.id}`)
              inFlight.set(chat, delivery.id)
              sentInOrder.set(chat, [...(sentInOrder.get(chat) ?? []), delivery.eventKey])
            }
            await sleep(Math.random() * 4)
            // The send is over before its outcome is recorded, as in the dispatcher.
            if (chat && inFlight.get(chat) === delivery.id) inFlight.delete(chat)
            await store.record(delivery.id, DELIVERED, outcome({ owner }))
          }),
        )
      }
    }
    await Promise.all([worker(a, 'a1'), worker(a, 'a2'), worker(b, 'b1'), worker(b, 'b2')])

    expect(overlaps).toEqual([])
    expect(sends.size).toBe(chatOf.size)
    expect([...sends.values()].every((count) => count === 1)).toBe(true)
    expect(sentInOrder).toEqual(expected)
    expect(sortCounts(await b.countDeliveries())).toEqual([{ target: 'a', status: 'delivered', count: 90 }])
  })

  it('a request PostgreSQL cannot store fails alone, not the others committed with it', async () => {
    const store = await replica()
    const bad = { ...event(2), whatsappId: 'nul\u0000session' }
    const [one, two, three] = await Promise.allSettled([
      store.accept([event(1)]),
      store.accept([bad]),
      store.accept([event(3)]),
    ])
    expect(one).toEqual({ status: 'fulfilled', value: [stored(eventKey(1))] })
    expect(two.status).toBe('rejected')
    expect((two as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailableError)
    expect(three).toEqual({ status: 'fulfilled', value: [stored(eventKey(3))] })
  })
  it("never lets a stream's reader pass an entry another replica commits late: a stream is one lane", async () => {
    // One replica commits 20 ms after it has written its deliveries (a trigger sleeps in its
    // transaction): without the lane's lock the others commit later ids meanwhile, and a reader
    // that has read those passes the slow one's for good.
    const replicas = await Promise.all([replica(), replica(), replica()])
    const slow = await replica('slow-replica')
    await withAdmin(
      (client) =>
        client.query(`
          CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF current_setting('application_name') = 'slow-replica' THEN PERFORM pg_sleep(0.02); END IF;
            RETURN NULL;
          END $$;
          CREATE TRIGGER slow_commit AFTER INSERT ON deliveries FOR EACH STATEMENT EXECUTE FUNCTION slow_commit();`),
      schema.url,
    )
    replicas.push(slow)
    const perReplica = 60
    let accepting = true
    const accepts = replicas.map(async (store, r) => {
      // Several accepts in flight per replica, each replica with a session of its own (events of
      // one session wait on its mark's row lock, which would order them whatever the lane).
      const writers = [0, 1, 2].map(async (w) => {
        for (let i = w; i < perReplica; i += 3) {
          const id = 1 + r * perReplica + i
          const lane = { target: 's', orderingKey: STREAM_LANE }
          const deliveries = [lane, { target: 'h', orderingKey: null }]
          await store.accept([{ ...event(id, { session: `session-${r}` }), deliveries }])
        }
      })
      await Promise.all(writers)
    })
    const done = Promise.all(accepts).finally(() => {
      accepting = false
    })
    // A consumer reading as fast as it can, as the stream does: past the last id it was given.
    const seen: number[] = []
    let position = 0
    const reader = replicas[0] as OutboxStore
    for (;;) {
      const wasAccepting = accepting
      const entries = await reader.readStream('s', position, 20)
      for (const entry of entries) seen.push(Number(JSON.parse(entry.body.toString()).id))
      position = entries.at(-1)?.id ?? position
      if (!wasAccepting && entries.length === 0) break
    }
    await done
    expect(seen.length).toBe(replicas.length * perReplica)
    expect(new Set(seen).size).toBe(replicas.length * perReplica)
  })
})
