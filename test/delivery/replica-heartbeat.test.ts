// The heartbeat loop (delivery/replica-heartbeat.ts) on the PostgreSQL store, on a manual clock:
// it finds another replica dead once it is silent past the limit and has the dispatcher look for
// the freed deliveries; a store outage is logged once and the loop goes on beating after it; a
// stop removes its own row.
import { afterEach, describe, expect, it } from 'vitest'
import { createReplicaHeartbeat } from '../../src/delivery/replica-heartbeat.ts'
import { type Harness, postgres } from '../store/store-harness.ts'
import { waitUntil } from '../support/events.ts'
import { captureLogger } from '../support/fake-whatsgate.ts'
import { createManualClock } from '../support/manual-clock.ts'
import { MINUTE, outboxEvent } from '../support/outbox.ts'

const SECOND = 1000
const harnesses: Harness[] = []
afterEach(async () => {
  for (const harness of harnesses.splice(0)) await harness.close()
})

describe.skipIf(postgres.skip !== null)(
  `replica heartbeat loop${postgres.skip ? ` (skipped: ${postgres.skip})` : ''}`,
  () => {
    it('frees a silent replica’s leases, outlives a store outage, and removes its row on stop', async () => {
      const harness = await postgres.open()
      harnesses.push(harness)
      const { store } = harness
      const clock = createManualClock()
      const capture = captureLogger('info')
      let woken = 0
      const heartbeat = createReplicaHeartbeat({
        store,
        id: 'alive',
        deadAfterMs: 15 * SECOND,
        forgetAfterMs: 60 * SECOND,
        log: capture.log,
        clock,
        onLeasesFreed: () => woken++,
      })
      const messages = () => capture.entries().map((entry) => entry.msg)
      /** One turn of the loop: the clock moved past its next beat, and the beat after it waiting. */
      const turn = async (ms: number) => {
        clock.advance(ms)
        await waitUntil(() => clock.pending().length === 1, 'the next beat scheduled')
      }

      await store.accept([outboxEvent(1), outboxEvent(2)])
      const held = await store.claim({
        target: 'a',
        limit: 2,
        owner: 'gone',
        now: Date.now(),
        leaseMs: MINUTE,
      })
      expect(held).toHaveLength(2)
      await store.beat({ id: 'gone', startedAt: clock.now(), now: clock.now() })
      await heartbeat.start()
      expect(clock.pending()).toEqual([1500])
      expect((await heartbeat.replicas()).map((r) => [r.id, r.alive, r.current])).toEqual([
        ['alive', true, true],
        ['gone', true, false],
      ])

      await turn(16 * SECOND)
      expect(woken).toBe(1)
      expect(capture.entries().find((entry) => entry.msg.startsWith('replica silent'))).toMatchObject({
        replica: 'gone',
      })
      expect((await heartbeat.replicas()).find((r) => r.id === 'gone')?.alive).toBe(false)
      const again = await store.claim({
        target: 'a',
        limit: 2,
        owner: 'alive',
        now: Date.now(),
        leaseMs: MINUTE,
      })
      expect(again.map((d) => d.id).sort()).toEqual(held.map((d) => d.id).sort())

      // The store out of reach: one error line for the whole outage, and the loop keeps its beat.
      const restore = await harness.outage()
      await turn(1500)
      await turn(1500)
      expect(messages().filter((msg) => msg.startsWith('replica heartbeat failed'))).toHaveLength(1)
      await restore()
      const beatBefore = (await store.listReplicas()).find((r) => r.id === 'alive')?.lastBeatAt as number
      await turn(1500)
      expect(messages()).toContain('replica heartbeat written again')
      const beatAfter = (await store.listReplicas()).find((r) => r.id === 'alive')?.lastBeatAt as number
      expect(beatAfter).toBeGreaterThan(beatBefore)

      await heartbeat.stop(clock.now())
      expect(clock.pending()).toEqual([])
      expect((await store.listReplicas()).map((r) => r.id)).toEqual(['gone'])
    })
  },
)
