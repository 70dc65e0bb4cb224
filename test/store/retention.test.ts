import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createRetention } from '../../src/store/retention.ts'
import { openSqliteStore } from '../../src/store/sqlite-store.ts'
import type { NewEvent, OutboxStore } from '../../src/store/types.ts'
import { outcome } from '../support/attempts.ts'
import { DEAD, DELIVERED } from '../support/outbox.ts'
import { tempDir } from '../support/relay.ts'

const DAY = 24 * 60 * 60 * 1000
const log = pino({ level: 'silent' })

function event(id: number, targets: string[]): NewEvent {
  return {
    key: `s:message:${id}`,
    whatsappId: 's',
    eventId: String(id),
    action: 'message',
    eventDate: '2022-09-07 18:29:37',
    chat: null,
    // A party row goes with its event when retention deletes it.
    parties: ['79990000001'],
    headers: null,
    body: Buffer.from(`{"id":${id}}`),
    deliveries: targets.map((target) => ({ target, orderingKey: null })),
    issues: [],
  }
}

let store: OutboxStore
afterEach(() => store.close())

describe('retention', () => {
  it('purges delivered and unrouted events after RETENTION_DAYS, dead ones after their own limit, never pending ones', async () => {
    const path = join(tempDir(), 'relay.sqlite')
    store = openSqliteStore({ path })
    // 1: delivered, 2: dead, 3: still pending, 4: no target wanted it, 5: one delivered + one dead.
    await store.accept([
      event(1, ['a']),
      event(2, ['a']),
      event(3, ['a']),
      event(4, []),
      event(5, ['a', 'b']),
    ])
    const claimed = await store.claim({
      target: 'a',
      limit: 10,
      owner: 'test',
      now: Date.now(),
      leaseMs: 60_000,
    })
    const idOf = (key: string) => claimed.find((d) => d.eventKey === key)?.id as number
    const ok = outcome({ owner: 'test' })
    await store.record(idOf('s:message:1'), DELIVERED, ok)
    await store.record(idOf('s:message:2'), DEAD, { ...ok, httpStatus: 410, error: 'gone' })
    await store.release([idOf('s:message:3')], 'test')
    await store.record(idOf('s:message:5'), DELIVERED, ok)
    const [five] = await store.claim({
      target: 'b',
      limit: 1,
      owner: 'test',
      now: Date.now(),
      leaseMs: 60_000,
    })
    await store.record(five?.id as number, DEAD, { ...ok, httpStatus: 410, error: 'gone' })

    const keys = async () => (await store.listDeliveries({ limit: 100 })).map((d) => d.eventKey)
    const purgeAt = (now: number) =>
      createRetention({
        store,
        log,
        retentionDays: 7,
        deadRetentionDays: 30,
        batchSize: 1,
        now: () => now,
      }).purgeOnce()

    expect(attemptsOf(path)).toEqual(['s:message:1', 's:message:2', 's:message:5', 's:message:5'])
    expect(await purgeAt(Date.now() + 6 * DAY)).toBe(0)
    // A week on: the delivered one and the unrouted one go (in batches of one).
    expect(await purgeAt(Date.now() + 8 * DAY)).toBe(2)
    expect(await keys()).toEqual(['s:message:2', 's:message:3', 's:message:5', 's:message:5'])
    // Attempts go with their event.
    expect(attemptsOf(path)).toEqual(['s:message:2', 's:message:5', 's:message:5'])
    // A month on: dead ones go too; the pending one stays whatever its age.
    expect(await purgeAt(Date.now() + 31 * DAY)).toBe(2)
    expect(await keys()).toEqual(['s:message:3'])
    expect(attemptsOf(path)).toEqual([])
    expect(await store.newestEventDates()).toEqual(new Map([['s', '2022-09-07 18:29:37']]))
  })
})

/** The event key of every attempt row in the file, read past the store. */
function attemptsOf(path: string): string[] {
  const db = new DatabaseSync(path, { readOnly: true })
  try {
    return db
      .prepare(
        `SELECT e.key FROM attempts a
         LEFT JOIN deliveries d ON d.id = a.delivery_id LEFT JOIN events e ON e.seq = d.event_seq
         ORDER BY a.id`,
      )
      .all()
      .map((row) => row.key as string)
  } finally {
    db.close()
  }
}
