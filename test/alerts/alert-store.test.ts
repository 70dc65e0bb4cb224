// Alerts in the store, one suite on both stores (store-harness.ts): a condition opens once and
// resolves once, telling marks what it told so that nothing is told twice, openings wait out the
// group window together, reminders come at the interval, and a channel's messages go in order.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AlertNotices, NewAlert, OutboxStore } from '../../src/store/types.ts'
import { type Harness, postgres, sqlite } from '../store/store-harness.ts'

const T0 = 1_800_000_000_000
const RULES = { groupWindowMs: 10_000, reminderMs: 3_600_000 }

function disconnect(session: string, at = T0): NewAlert {
  return { condition: 'session.disconnected', subject: session, session, detail: 'reason "x"', at }
}

for (const factory of [sqlite, postgres]) {
  const title = factory.skip ? `${factory.name} store (skipped: ${factory.skip})` : `${factory.name} store`

  describe.skipIf(factory.skip !== null)(`alerts, ${title}`, () => {
    let harness: Harness
    let store: OutboxStore
    beforeEach(async () => {
      harness = await factory.open()
      store = harness.store
    })
    afterEach(() => harness.close())

    /** One round of telling at `now`: what it was given, and the messages it wrote (one per round). */
    async function tell(now: number): Promise<AlertNotices | null> {
      let seen: AlertNotices | null = null
      const written = await store.tellAlerts({ now, ...RULES }, (notices) => {
        const empty = notices.opened.length + notices.resolved.length + notices.reminded.length === 0
        seen = empty ? null : notices
        return empty ? [] : [{ channel: 'c', body: JSON.stringify(notices) }]
      })
      expect(written).toBe(seen ? 1 : 0)
      return seen
    }

    it('opens a condition once, resolves it once, and a late old opening does not reopen it', async () => {
      expect(await store.openAlert(disconnect('s1'))).toBe(true)
      expect(await store.openAlert(disconnect('s1', T0 + 5))).toBe(false)
      expect((await store.openAlerts()).map((row) => [row.condition, row.subject, row.detail])).toEqual([
        ['session.disconnected', 's1', 'reason "x"'],
      ])
      expect(await store.resolveAlert('session.disconnected', 's1', T0 + 100)).toBe(true)
      expect(await store.resolveAlert('session.disconnected', 's1', T0 + 101)).toBe(false)
      // An event older than the resolution, read late (another replica): no new opening.
      expect(await store.openAlert(disconnect('s1', T0 + 50))).toBe(false)
      expect(await store.openAlerts()).toEqual([])
      // A newer disconnect opens it again.
      expect(await store.openAlert(disconnect('s1', T0 + 200))).toBe(true)
      const recent = await store.recentAlerts(T0, 10)
      expect(recent.map((row) => [row.resolvedAt, row.openedAt])).toEqual([
        [null, T0 + 200],
        [T0 + 100, T0],
      ])
    })

    it('groups openings within the window, tells each thing once, and reminds at the interval', async () => {
      for (let i = 0; i < 10; i++) await store.openAlert(disconnect(`s${i}`, T0 + i * 100))
      // Within the window of the first: nothing yet.
      expect(await tell(T0 + 5_000)).toBeNull()
      const first = await tell(T0 + 10_000)
      expect(first?.opened.map((row) => row.subject)).toEqual([...Array(10).keys()].map((i) => `s${i}`))
      expect(await tell(T0 + 10_001)).toBeNull()

      await store.resolveAlert('session.disconnected', 's3', T0 + 20_000)
      const second = await tell(T0 + 20_001)
      expect(second?.resolved.map((row) => row.subject)).toEqual(['s3'])
      expect(second?.opened).toEqual([])
      expect(await tell(T0 + 20_002)).toBeNull()

      expect(await tell(T0 + 10_000 + RULES.reminderMs - 1)).toBeNull()
      const reminder = await tell(T0 + 10_000 + RULES.reminderMs)
      expect(reminder?.reminded).toHaveLength(9)
      expect(await tell(T0 + 10_000 + RULES.reminderMs + 1)).toBeNull()
    })

    it("delivers a channel's messages one at a time, in order, retrying the head", async () => {
      await store.queueAlertMessages(
        [
          { channel: 'a', body: '1' },
          { channel: 'b', body: 'b1' },
          { channel: 'a', body: '2' },
        ],
        T0,
      )
      const head = await store.claimAlertMessage('a', T0, 60_000)
      expect(head?.body).toBe('1')
      // Held: no one else gets it, nor the one behind it.
      expect(await store.claimAlertMessage('a', T0 + 1, 60_000)).toBeNull()
      expect((await store.claimAlertMessage('b', T0, 60_000))?.body).toBe('b1')
      await store.finishAlertMessage(head?.id as number, { retryAt: T0 + 5_000, error: 'HTTP 500' }, T0 + 2)
      expect(await store.claimAlertMessage('a', T0 + 4_999, 60_000)).toBeNull()
      const again = await store.claimAlertMessage('a', T0 + 5_000, 60_000)
      expect([again?.body, again?.attempts]).toEqual(['1', 1])
      await store.finishAlertMessage(again?.id as number, { delivered: true }, T0 + 5_001)
      expect((await store.claimAlertMessage('a', T0 + 5_002, 60_000))?.body).toBe('2')
      const recent = await store.recentAlertMessages(10)
      expect(recent.find((row) => row.body === '1')).toMatchObject({
        status: 'delivered',
        attempts: 2,
        deliveredAt: T0 + 5_001,
        lastError: null,
      })
    })

    it('an opening told already (from memory) is not told again; its resolution is', async () => {
      await store.openAlert({
        condition: 'relay.store',
        subject: '',
        session: null,
        detail: 'full',
        at: T0,
        toldAt: T0 + 1,
      })
      expect(await tell(T0 + 60_000)).toBeNull()
      await store.resolveAlert('relay.store', '', T0 + 60_001)
      const told = await tell(T0 + 60_002)
      expect([told?.opened, told?.resolved.map((row) => row.condition)]).toEqual([[], ['relay.store']])
    })

    it('purges delivered messages and told resolutions past their time, nothing still to do', async () => {
      await store.openAlert(disconnect('old'))
      await store.openAlert(disconnect('open'))
      await tell(T0 + 20_000)
      await store.resolveAlert('session.disconnected', 'old', T0 + 30_000)
      await tell(T0 + 30_001)
      await store.openAlert(disconnect('untold', T0 + 30_002))
      await store.resolveAlert('session.disconnected', 'untold', T0 + 30_003)
      await store.queueAlertMessages([{ channel: 'c', body: 'waiting' }], T0)
      const sent = await store.claimAlertMessage('c', T0 + 40_000, 60_000)
      await store.finishAlertMessage(sent?.id as number, { delivered: true }, T0 + 40_001)
      expect(await store.purgeAlerts(T0 + 40_000)).toBe(1)
      expect(await store.purgeAlerts(T0 + 40_002)).toBe(1)
      expect((await store.recentAlerts(0, 10)).map((row) => row.subject).sort()).toEqual(['open', 'untold'])
      expect((await store.recentAlertMessages(10)).every((row) => row.status === 'pending')).toBe(true)
    })

    it('keeps the evaluator state', async () => {
      expect(await store.alertState('events.seq')).toBeNull()
      await store.setAlertState('events.seq', '12')
      await store.setAlertState('events.seq', '13')
      expect(await store.alertState('events.seq')).toBe('13')
    })
  })
}
