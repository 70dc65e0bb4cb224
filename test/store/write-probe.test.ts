// ping for /readyz, on both stores (store-harness.ts): a write, not a read. The latest accept's
// outcome answers for FRESH_MS, then a probe writes; each recovers with the store.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { reasonOf } from '../../src/store/errors.ts'
import type { OutboxStore } from '../../src/store/types.ts'
import { FRESH_MS } from '../../src/store/write-health.ts'
import { outboxEvent as event } from '../support/outbox.ts'
import { type Harness, postgres, sqlite, type TestClock, testClock } from './store-harness.ts'

for (const factory of [sqlite, postgres]) {
  const title = factory.skip ? `${factory.name} store (skipped: ${factory.skip})` : `${factory.name} store`

  describe.skipIf(factory.skip !== null)(`write probe: ${title}`, () => {
    let harness: Harness
    let store: OutboxStore
    let clock: TestClock
    beforeEach(async () => {
      clock = testClock()
      clock.at = 1_000_000
      harness = await factory.open(clock)
      store = harness.store
    })
    afterEach(() => harness.close())

    const later = () => {
      clock.at = (clock.at as number) + FRESH_MS
    }
    const pingError = () => store.ping().then(() => null, reasonOf)

    it('fails while writes are refused, saying why, from a failed accept at once and from the probe after', async () => {
      expect(await pingError()).toBeNull()
      const restore = await harness.outage()
      try {
        const failed = await store.accept([event(2)]).then(() => null, reasonOf)
        expect(failed).not.toBeNull()
        expect(await pingError()).toBe(failed)
        later()
        expect(await pingError()).toEqual(expect.any(String))
      } finally {
        await restore()
      }
      later()
      expect(await pingError()).toBeNull()
      expect((await store.accept([event(2)]))[0]?.inserted).toBe(true)
    })
  })
}
