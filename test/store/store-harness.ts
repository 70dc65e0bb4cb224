// The two stores the shared suites run on (outbox-store.test.ts, admin-lists.test.ts): SQLite on a
// temp file and PostgreSQL on a fresh schema per test, each behind a way to cut it off.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { openPostgresStore } from '../../src/store/postgres-store.ts'
import { openSqliteStore } from '../../src/store/sqlite-store.ts'
import type { OutboxStore } from '../../src/store/types.ts'
import { freshSchema, postgresSkipReason, withAdmin } from '../support/postgres.ts'
import { tempDir } from '../support/relay.ts'
import { startProxy } from '../support/tcp-proxy.ts'

/** The time a store stamps events with: real time unless a test sets `at`. */
export interface TestClock {
  at: number | null
  now(): number
}

export function testClock(): TestClock {
  return {
    at: null,
    now() {
      return this.at ?? Date.now()
    },
  }
}

export interface Harness {
  store: OutboxStore
  /** Makes the database unreachable for the store; the function returned brings it back. */
  outage(): Promise<() => Promise<void>>
  /** The rows of the attempts table, read past the store (purges must not leave any behind). */
  attemptRows(): Promise<number>
  close(): Promise<void>
}

export interface StoreFactory {
  name: string
  skip: string | null
  open(clock?: TestClock): Promise<Harness>
}

export const sqlite: StoreFactory = {
  name: 'sqlite',
  skip: null,
  async open(clock) {
    const dir = tempDir('outbox-store-')
    const path = join(dir, 'relay.sqlite')
    const store = openSqliteStore({ path, busyTimeoutMs: 100, clock })
    return {
      store,
      // Another connection holding the write lock: the store's writes time out.
      async outage() {
        const other = new DatabaseSync(path)
        other.exec('BEGIN EXCLUSIVE')
        return async () => {
          other.exec('COMMIT')
          other.close()
        }
      },
      async attemptRows() {
        const db = new DatabaseSync(path, { readOnly: true })
        try {
          return Number(db.prepare('SELECT count(*) AS n FROM attempts').get()?.n)
        } finally {
          db.close()
        }
      },
      async close() {
        await store.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  },
}

export const postgres: StoreFactory = {
  name: 'postgres',
  skip: postgresSkipReason,
  async open(clock) {
    const schema = await freshSchema('outbox_store')
    // The store reaches PostgreSQL through a local TCP proxy, so a test can cut the line.
    const target = new URL(schema.url)
    const proxy = await startProxy(target.hostname, Number(target.port || 5432))
    const viaProxy = new URL(schema.url)
    viaProxy.hostname = '127.0.0.1'
    viaProxy.port = String(proxy.port)
    const store = await openPostgresStore({
      url: viaProxy.toString(),
      connectTimeoutMs: 1000,
      onIdleError: () => {},
      clock,
    })
    return {
      store,
      async outage() {
        await proxy.stop()
        return () => proxy.start()
      },
      async attemptRows() {
        const { rows } = await withAdmin(
          (client) => client.query('SELECT count(*)::int AS n FROM attempts'),
          schema.url,
        )
        return rows[0].n as number
      },
      async close() {
        await store.close()
        await proxy.stop()
        await schema.drop()
      },
    }
  },
}
