// Dead-letter triage from the CLI against a real relay and real targets: a filter counted first and
// replayed only with --yes, a discard with a reason that replay-all then leaves out, an event sent
// again to its failed target only, and the audit log saying it came from the CLI.
import { describe, expect, it } from 'vitest'
import { wgEvent } from '../support/events.ts'
import { eventually, json, startRelay } from './admin-relay.ts'

const fastRetry = { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 10 }
const idOf = (body: Buffer) => JSON.parse(body.toString()).id as number

describe('dead-letter triage from the CLI', () => {
  it('counts a filter, replays it with --yes, discards one with a reason, and audits both', async () => {
    let down = true
    const relay = await startRelay([
      { name: 'crm', respondWith: () => (down ? { status: 502 } : {}), retry: fastRetry },
      { name: 'bot' },
    ])
    for (const [id, session] of [
      [1, 'shop'],
      [2, 'shop'],
      [3, 'other'],
    ] as const) {
      await relay.post(wgEvent({ id, whatsappId: session }))
    }
    await eventually(
      async () =>
        json<{ matched: number }>(
          await relay.cli(['replay', '--dead', '--target', 'crm', '--dry-run', '--json']),
        ).matched === 3,
      'three dead letters',
    )

    // Counted, not replayed: the target is paused, and it is said.
    expect((await relay.cli(['pause', 'crm'])).code).toBe(0)
    const counted = await relay.cli(['replay', '--dead', '--session', 'shop', '--status', '502'])
    expect(counted.code).toBe(0)
    expect(counted.out).toEqual([
      '2 dead deliveries match',
      'warning: crm is paused: what is replayed waits until it is resumed',
      'add --yes to replay them',
    ])
    expect((await relay.cli(['resume', 'crm'])).code).toBe(0)
    expect(relay.sinks.crm?.requests.length).toBe(6)

    const discarded = await relay.cli([
      'discard',
      '--dead',
      '--session',
      'other',
      '--reason',
      'test traffic',
      '--yes',
    ])
    expect(discarded.out).toEqual([
      'discarded 1 of the 1 dead delivery matches: kept, and left out of bulk replays',
    ])

    down = false
    const replayed = await relay.cli(['replay', '--dead', '--session', 'shop', '--yes'])
    expect(replayed.code).toBe(0)
    expect(replayed.out.at(-1)).toBe('replayed 2 of the 2 dead deliveries match')
    await relay.sinks.crm?.waitFor(8)
    expect(
      relay.sinks.crm?.requests
        .slice(6)
        .map((r) => idOf(r.body))
        .sort(),
    ).toEqual([1, 2])

    // Replay-all of the target: the discarded one stays dead.
    expect((await relay.cli(['replay', '--target', 'crm', '--dead'])).out).toEqual([
      'replayed 0 dead deliveries of crm',
    ])
    // By event, the failed target only: bot got it the first time.
    const key = `other:message:3`
    expect((await relay.cli(['replay', '--event', key, '--failed'])).out).toEqual(['replayed 1'])
    await relay.sinks.crm?.waitFor(9)
    expect(relay.sinks.bot?.requests.length).toBe(3)

    const audit = await relay.cli(['audit'])
    expect(audit.code).toBe(0)
    const rows = audit.out.slice(1)
    expect(rows).toHaveLength(5)
    expect(rows[0]).toMatch(/ replay +cli +admin token +1 +the dead deliveries of event other:message:3/)
    expect(rows[1]).toMatch(
      / replay +cli +admin token +2 +dead letters of every target, session shop, ids up to \d+/,
    )
    expect(rows[2]).toMatch(
      / discard +cli +admin token +1 +dead letters of every target, session other +test traffic/,
    )
  })

  it('refuses a filter without --dead, --dead without a filter, and a discard without a reason (exit 2)', async () => {
    const relay = await startRelay([{ name: 'crm' }])
    for (const args of [
      ['replay', '--session', 'shop'],
      ['replay', '--dead', '--dry-run'],
      ['replay', '--dead', '--status', 'teapot'],
      ['replay', '1', '--failed'],
      ['discard', '1'],
      ['discard', '--reason', 'why'],
      ['discard', '--dead', '--reason', 'why'],
    ]) {
      const run = await relay.cli(args)
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.err, args.join(' ')).toHaveLength(1)
    }
  })
})
