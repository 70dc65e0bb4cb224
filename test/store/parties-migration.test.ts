// Events stored before the relay kept parties: the migration gives each its chat as a party, written
// as partiesOf writes one (a one-to-one jid as its number), so a search by party finds an old
// event by its chat, never by its sender or recipient (its body is not read again). On a real
// SQLite file and a real PostgreSQL schema, each brought to the schema before, then opened.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterEach, describe, expect, it } from 'vitest'
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres-schema.ts'
import { openPostgresStore } from '../../src/store/postgres-store.ts'
import { SQLITE_MIGRATIONS } from '../../src/store/sqlite-schema.ts'
import { openSqliteStore } from '../../src/store/sqlite-store.ts'
import type { OutboxStore } from '../../src/store/types.ts'
import { outboxEvent as event, eventKey as key } from '../support/outbox.ts'
import { freshSchema, postgresSkipReason, withAdmin } from '../support/postgres.ts'
import { tempDir } from '../support/relay.ts'

const GROUP = '120363025246125888@g.us'
// Chats as stored before: a one-to-one jid, a group's, one of another kind, and none.
const OLD_CHATS = ['79991234567@c.us', GROUP, '12345@lid', null]

/** The migration that began keeping parties: the schema before it is the old one. */
const isPartiesMigration = (migration: string) => migration.includes('CREATE TABLE event_parties')

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** What an old event is found by once migrated, and a new one beside it by its sender. */
async function expectFoundByChat(store: OutboxStore) {
  const keys = async (party: string) => (await store.listEvents({ party, limit: 10 })).map((e) => e.key)
  expect(await keys('+7 999 123-45-67')).toEqual([key(1)])
  expect(await keys('79991234567@c.us')).toEqual([key(1)])
  expect(await keys(GROUP)).toEqual([key(2)])
  expect(await keys('12345@lid')).toEqual([key(3)])
  await store.accept([event(5, { jid: '79990000000@c.us', parties: ['79990000000', '79991234567'] })])
  expect(await keys('79991234567')).toEqual([key(1), key(5)])
}

describe('events stored before parties were kept', () => {
  it('sqlite: are found by their chat as a party', async () => {
    const dir = tempDir('parties-migration-')
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const path = join(dir, 'relay.sqlite')
    const old = new DatabaseSync(path)
    const before = SQLITE_MIGRATIONS.findIndex(isPartiesMigration)
    for (const migration of SQLITE_MIGRATIONS.slice(0, before)) old.exec(migration)
    old.exec(`PRAGMA user_version = ${before}`)
    const insert = old.prepare(`
      INSERT INTO events (key, whatsapp_id, event_id, action, event_date, chat, body, received_at)
      VALUES (?, '191b80a9238', ?, 'message', '2022-09-07 18:29:37', ?, x'7b7d', 0)`)
    for (const [i, chat] of OLD_CHATS.entries()) insert.run(key(i + 1), String(i + 1), chat)
    old.close()

    const store = openSqliteStore({ path })
    cleanups.push(() => store.close())
    await expectFoundByChat(store)
  })

  it.skipIf(postgresSkipReason !== null)('postgres: are found by their chat as a party', async () => {
    const schema = await freshSchema('parties_migration')
    cleanups.push(() => schema.drop())
    await withAdmin(async (client) => {
      const before = POSTGRES_MIGRATIONS.findIndex(isPartiesMigration)
      await client.query(
        'CREATE TABLE relay_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)',
      )
      for (const [i, migration] of POSTGRES_MIGRATIONS.slice(0, before).entries()) {
        await client.query(migration)
        await client.query('INSERT INTO relay_migrations VALUES ($1, 0)', [i + 1])
      }
      for (const [i, chat] of OLD_CHATS.entries()) {
        await client.query(
          `INSERT INTO events (key, whatsapp_id, event_id, action, event_date, chat, body, received_at)
           VALUES ($1, '191b80a9238', $2, 'message', '2022-09-07 18:29:37', $3, '\\x7b7d', 0)`,
          [key(i + 1), String(i + 1), chat],
        )
      }
    }, schema.url)

    const store = await openPostgresStore({ url: schema.url, onIdleError: () => {} })
    cleanups.push(() => store.close())
    await expectFoundByChat(store)
  })
})
