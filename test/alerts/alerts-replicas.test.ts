// Two replicas on one PostgreSQL outbox, each with its own alerts loop on its own clock: a
// disconnect posted to one and the ready posted to the other are told once each, by one of them.
import { afterEach, describe, expect, it } from 'vitest'
import { sessionEvent } from '../support/events.ts'
import { createManualClock, type ManualClock } from '../support/manual-clock.ts'
import { freshSchema, postgresSkipReason, type TestSchema } from '../support/postgres.ts'
import { buildTestApp } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const CHECK_MS = 7_777
const title = postgresSkipReason ? `(skipped: ${postgresSkipReason})` : ''

describe.skipIf(postgresSkipReason !== null)(`alerts on replicas ${title}`, () => {
  let slack: Sink
  let schema: TestSchema
  const replicas: Awaited<ReturnType<typeof buildTestApp>>[] = []
  afterEach(async () => {
    for (const replica of replicas.splice(0)) await replica.close()
    await slack.close()
    await schema.drop()
  })

  it('tells an opening and a resolution once, whichever replica saw the event', async () => {
    slack = await startSink()
    schema = await freshSchema('alerts_replicas')
    const clocks: ManualClock[] = []
    const start = Date.now()
    for (let i = 0; i < 2; i++) {
      const clock = createManualClock(start)
      clocks.push(clock)
      const replica = await buildTestApp(
        {
          DATABASE_URL: schema.url,
          ADMIN_TOKEN: 'off',
          ALERTS: JSON.stringify([{ name: 'team', format: 'slack', url: `${slack.url}/hooks/team` }]),
          ALERT_GROUP_SECONDS: '0',
        },
        undefined,
        { clock, delays: { alertCheckMs: CHECK_MS } },
      )
      await replica.app.ready()
      replicas.push(replica)
    }
    /** One round on each replica at once, awaited. */
    async function rounds(): Promise<void> {
      for (const clock of clocks) clock.advance(CHECK_MS)
      const deadline = Date.now() + 20_000
      while (!clocks.every((clock) => clock.pending().includes(CHECK_MS))) {
        if (Date.now() > deadline) throw new Error('the alerts rounds did not finish')
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    }
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]]
    expect((await a.post(sessionEvent(1, 'disconnect', 'shop-r'))).statusCode).toBe(200)
    // Events are read 30 s behind on PostgreSQL (a seq may commit after a higher one): 4 checks.
    for (let i = 0; i < 3; i++) await rounds()
    expect(slack.requests).toHaveLength(0)
    for (let i = 0; i < 3; i++) await rounds()
    expect(slack.requests).toHaveLength(1)
    expect(slack.requests[0]?.body.toString()).toContain('OPENED (1)')

    expect((await b.post(sessionEvent(2, 'ready', 'shop-r'))).statusCode).toBe(200)
    for (let i = 0; i < 6; i++) await rounds()
    expect(slack.requests).toHaveLength(2)
    expect(slack.requests[1]?.body.toString()).toContain('RESOLVED (1)')
  })
})
