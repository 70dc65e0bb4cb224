// Replica heartbeats in the store, one suite on both stores (store-harness.ts): a replica silent
// past the limit is found dead once, its leases (and only its) are claimable at once, and it is
// forgotten later; a beat makes a replica found dead alive again.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { OutboxStore } from '../../src/store/types.ts'
import { MINUTE, outboxEvent } from '../support/outbox.ts'
import { type Harness, postgres, sqlite } from './store-harness.ts'

const T0 = 1_800_000_000_000
const SECOND = 1000

for (const factory of [sqlite, postgres]) {
  const title = factory.skip ? `${factory.name} store (skipped: ${factory.skip})` : `${factory.name} store`

  describe.skipIf(factory.skip !== null)(`replica heartbeats, ${title}`, () => {
    let harness: Harness
    let store: OutboxStore
    beforeEach(async () => {
      harness = await factory.open()
      store = harness.store
    })
    afterEach(() => harness.close())

    const reap = (self: string, now: number) =>
      store.reapReplicas({ self, now, silentSince: now - 15 * SECOND, forgetBefore: now - 60 * SECOND })

    it('lists replicas as they beat, and forgets one removed', async () => {
      await store.beat({ id: 'a', startedAt: T0, now: T0 })
      await store.beat({ id: 'b', startedAt: T0 + 1, now: T0 + 1 })
      await store.beat({ id: 'a', startedAt: T0 + 99, now: T0 + 5 * SECOND })
      expect(await store.listReplicas()).toEqual([
        { id: 'a', startedAt: T0, lastBeatAt: T0 + 5 * SECOND, deadAt: null },
        { id: 'b', startedAt: T0 + 1, lastBeatAt: T0 + 1, deadAt: null },
      ])
      await store.removeReplica('a')
      expect((await store.listReplicas()).map((r) => r.id)).toEqual(['b'])
    })

    it("frees a silent replica's leases once, leaving the others' alone, then forgets it", async () => {
      await store.accept([1, 2, 3, 4].map((id) => outboxEvent(id)))
      const claim = (owner: string, limit: number) =>
        store.claim({ target: 'a', limit, owner, now: Date.now(), leaseMs: 10 * MINUTE })
      const ofDead = await claim('dead', 2)
      const ofAlive = await claim('alive', 1)
      expect(ofDead).toHaveLength(2)
      expect(ofAlive).toHaveLength(1)
      await store.beat({ id: 'dead', startedAt: T0, now: T0 })
      await store.beat({ id: 'alive', startedAt: T0, now: T0 })

      // Not silent long enough: nothing happens.
      expect(await reap('alive', T0 + 14 * SECOND)).toEqual({ dead: [], freed: 0 })
      await store.beat({ id: 'alive', startedAt: T0, now: T0 + 16 * SECOND })
      expect(await reap('alive', T0 + 16 * SECOND)).toEqual({ dead: ['dead'], freed: 2 })
      // Found dead once: a second reap (another replica's) frees nothing more.
      expect(await reap('alive', T0 + 17 * SECOND)).toEqual({ dead: [], freed: 0 })
      expect(await store.listReplicas()).toEqual([
        { id: 'alive', startedAt: T0, lastBeatAt: T0 + 16 * SECOND, deadAt: null },
        { id: 'dead', startedAt: T0, lastBeatAt: T0, deadAt: T0 + 16 * SECOND },
      ])

      // Its two are claimable now, long before their lease runs out; the living one's is not.
      const again = (await claim('alive', 10)).map((d) => d.id)
      expect(again).toHaveLength(3)
      expect(again).toEqual(expect.arrayContaining(ofDead.map((d) => d.id)))
      expect(again).not.toContain(ofAlive[0]?.id)

      // The reaper never reaps itself, however long it was silent; the dead one goes after a minute.
      expect(await reap('alive', T0 + 61 * SECOND)).toEqual({ dead: [], freed: 0 })
      expect((await store.listReplicas()).map((r) => r.id)).toEqual(['alive'])
    })

    it('makes a replica found dead alive again when it beats', async () => {
      await store.beat({ id: 'slow', startedAt: T0, now: T0 })
      await store.beat({ id: 'b', startedAt: T0, now: T0 + 20 * SECOND })
      expect((await reap('b', T0 + 20 * SECOND)).dead).toEqual(['slow'])
      expect(await store.beat({ id: 'slow', startedAt: T0, now: T0 + 21 * SECOND })).toEqual({
        wasDead: true,
      })
      expect(await store.beat({ id: 'slow', startedAt: T0, now: T0 + 22 * SECOND })).toEqual({
        wasDead: false,
      })
      expect(await store.beat({ id: 'new', startedAt: T0, now: T0 + 22 * SECOND })).toEqual({
        wasDead: false,
      })
      await store.removeReplica('new')
      expect(await store.listReplicas()).toEqual([
        { id: 'b', startedAt: T0, lastBeatAt: T0 + 20 * SECOND, deadAt: null },
        { id: 'slow', startedAt: T0, lastBeatAt: T0 + 22 * SECOND, deadAt: null },
      ])
    })
  })
}
