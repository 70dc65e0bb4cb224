// Dashboard sessions in the store, one suite on both stores (store-harness.ts): what a sign-in
// writes is read back as written, and a sign-out, a lapse or a token change ends it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AdminSessionRow, OutboxStore } from '../../src/store/types.ts'
import { type Harness, postgres, sqlite } from './store-harness.ts'

const HOUR = 3_600_000
const T0 = 1_800_000_000_000

function session(id: string, overrides: Partial<AdminSessionRow> = {}): AdminSessionRow {
  return {
    id,
    secretHash: Buffer.from(`hash of ${id}`),
    role: 'admin',
    tokenTag: 'tag-a',
    createdAt: T0,
    lastSeenAt: T0,
    expiresAt: T0 + 12 * HOUR,
    address: '203.0.113.7',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
    ...overrides,
  }
}

for (const factory of [sqlite, postgres]) {
  const title = factory.skip ? `${factory.name} store (skipped: ${factory.skip})` : `${factory.name} store`

  describe.skipIf(factory.skip !== null)(`admin sessions, ${title}`, () => {
    let harness: Harness
    let store: OutboxStore
    beforeEach(async () => {
      harness = await factory.open()
      store = harness.store
    })
    afterEach(() => harness.close())

    it('keeps a session as written, lists newest first, and ends one by id', async () => {
      const first = session('s-1')
      const second = session('s-2', { role: 'viewer', createdAt: T0 + 1, address: null, userAgent: null })
      await store.createAdminSession(first)
      await store.createAdminSession(second)
      expect(await store.findAdminSession('s-1')).toEqual(first)
      expect(await store.findAdminSession('s-2')).toEqual(second)
      expect(await store.findAdminSession('s-3')).toBeNull()
      expect((await store.listAdminSessions()).map((s) => s.id)).toEqual(['s-2', 's-1'])

      expect(await store.endAdminSession('s-1')).toBe(true)
      expect(await store.endAdminSession('s-1')).toBe(false)
      expect(await store.findAdminSession('s-1')).toBeNull()
      expect((await store.listAdminSessions()).map((s) => s.id)).toEqual(['s-2'])
    })

    it('moves the last-seen time forward only', async () => {
      await store.createAdminSession(session('s-1'))
      await store.touchAdminSession('s-1', T0 + HOUR)
      await store.touchAdminSession('s-1', T0 + 1)
      expect((await store.findAdminSession('s-1'))?.lastSeenAt).toBe(T0 + HOUR)
    })

    it('prunes sessions past their lifetime, idle too long, or of a token no longer set', async () => {
      await store.createAdminSession(session('live', { lastSeenAt: T0 + 2 * HOUR }))
      await store.createAdminSession(session('expired', { expiresAt: T0 + 2 * HOUR }))
      await store.createAdminSession(session('idle', { lastSeenAt: T0 }))
      await store.createAdminSession(session('old-token', { lastSeenAt: T0 + 2 * HOUR, tokenTag: 'tag-old' }))
      await store.createAdminSession(
        session('viewer', { lastSeenAt: T0 + 2 * HOUR, role: 'viewer', tokenTag: 'tag-v' }),
      )
      const pruned = await store.pruneAdminSessions({
        now: T0 + 2 * HOUR,
        idleSince: T0 + HOUR,
        tokenTags: ['tag-a', 'tag-v'],
      })
      expect(pruned).toBe(3)
      expect((await store.listAdminSessions()).map((s) => s.id).toSorted()).toEqual(['live', 'viewer'])
    })
  })
}
