// The first start does not replay history: a session the relay has never seen starts at that
// start, so a bot is not handed the account's old messages as new. Restarts then fetch exactly
// the gap. The whole app against the fake WhatsGate, delivering to a real HTTP target.
import { afterEach, describe, expect, it } from 'vitest'
import { wallClock } from '../../src/events/index.ts'
import { type FakeWhatsGate, startFakeWhatsGate } from '../support/fake-whatsgate.ts'
import { buildTestApp, readOutbox, tempDir } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const API_KEY = 'first-start-key-5d1c9a'

let cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const step of cleanup.reverse()) await step()
  cleanup = []
})

function event(n: number, eventDate: string) {
  return {
    id: n,
    whatsapp_id: 'wa-1',
    event_action: 'message',
    event_date: eventDate,
    status_code: null,
    event_data: { message: { id: `false_79990001@c.us_3EB0${n}`, body: `text ${n}`, ack: 1 } },
  }
}

/** Events of last year: what WhatsGate keeps from before the relay existed. */
const history = Array.from({ length: 30 }, (_, i) => event(i + 1, `2025-03-0${1 + (i % 9)} 10:00:${10 + i}`))

interface Setup {
  fake: FakeWhatsGate
  target: Sink
  dataDir: string
}

async function setup(): Promise<Setup> {
  const fake = await startFakeWhatsGate({
    apiKey: API_KEY,
    sessions: [{ unique_id: 'wa-1' }],
    events: [...history],
  })
  const target = await startSink()
  const dataDir = tempDir('first-start-')
  cleanup.push(async () => {
    await target.close()
    await fake.close()
  })
  return { fake, target, dataDir }
}

describe('first start', () => {
  it('forwards none of the history; a restart forwards exactly the gap', async () => {
    const env = await setup()
    const before = wallClock(Date.now())

    const first = await started(env)
    expect(first.backfill).toMatchObject({ fetched: 0, accepted: 0 })
    expect(String(first.backfill.from) >= before).toBe(true)
    expect(readOutbox(env.dataDir).events).toEqual([])
    await first.stop()

    // While the relay is away, WhatsGate gives up on two new events: they stay in events-get.
    const gap = [event(101, wallClock(Date.now())), event(102, wallClock(Date.now()))]
    env.fake.events.push(...gap)

    const second = await started(env)
    expect(second.backfill).toMatchObject({ accepted: 2 })
    await env.target.waitFor(2)
    expect(env.target.requests.map((r) => r.body.toString()).sort()).toEqual(
      gap.map((e) => JSON.stringify(e)).sort(),
    )
    expect(
      readOutbox(env.dataDir)
        .events.map((e) => e.key)
        .sort(),
    ).toEqual(['wa-1:message:101', 'wa-1:message:102'])
    await second.stop()
  })

  it('fetches everything WhatsGate keeps when BACKFILL_SINCE=all', async () => {
    const env = await setup()
    const first = await started(env, { BACKFILL_SINCE: 'all' })
    expect(first.backfill).toMatchObject({ from: null, accepted: history.length })
    await env.target.waitFor(history.length)
    await first.stop()
  })

  it('fetches from the date BACKFILL_SINCE gives', async () => {
    const env = await setup()
    const first = await started(env, { BACKFILL_SINCE: '2025-03-09 00:00:00' })
    const expected = history.filter((e) => e.event_date >= '2025-03-09 00:00:00')
    expect(expected.length).toBeGreaterThan(0)
    expect(first.backfill).toMatchObject({ from: '2025-03-09 00:00:00', accepted: expected.length })
    await first.stop()
  })
})

/** The relay started on the setup's folder, once its start-up backfill of wa-1 has completed. */
async function started(env: Setup, extra: Record<string, string> = {}) {
  const relay = await buildTestApp(
    {
      WHATSGATE_API_URL: env.fake.url,
      WHATSGATE_API_KEY: API_KEY,
      WHATSGATE_WHATSAPP_IDS: 'wa-1',
      PUBLIC_URL: 'https://relay.example.test',
      FORWARD_URL: env.target.url,
      ...extra,
    },
    env.dataDir,
  )
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await relay.app.close() // not relay.close(): that would delete the data folder
  }
  cleanup.push(stop)
  await relay.app.ready()
  // /readyz shows the start-up backfill's result once the session's run has completed.
  const deadline = Date.now() + 10_000
  for (;;) {
    const [backfill] = (await relay.app.inject('/readyz')).json().backfill ?? []
    if (backfill)
      return { backfill: backfill as { from: string | null; fetched: number; accepted: number }, stop }
    if (Date.now() > deadline) throw new Error('timed out waiting for the start-up backfill')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
