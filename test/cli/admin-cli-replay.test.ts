// Acting on a running relay from the CLI: a dead delivery found, replayed and arriving at its target
// once; every dead delivery of a target replayed in chunks with a progress bar; a target paused
// and resumed. Real relay, real targets; waits are on conditions, never on time.
import { describe, expect, it } from 'vitest'
import { REPLAY_CHUNK } from '../../src/cli/replay.ts'
import { wgEvent } from '../support/events.ts'
import { eventually, json, startRelay, type TestRelay } from './admin-relay.ts'

interface Delivery {
  id: number
  target: string
  status: string
  eventKey: string
}

async function deliveries(relay: TestRelay, args: string[] = []): Promise<Delivery[]> {
  return json<{ deliveries: Delivery[] }>(await relay.cli(['deliveries', '--all', '--json', ...args]))
    .deliveries
}

async function deadCount(relay: TestRelay, target: string): Promise<number> {
  return (await deliveries(relay, ['--status', 'dead', '--target', target])).length
}

/** The webhook-id of each request a sink received: the event key, percent-encoded where needed. */
const keysReceived = (sink: { requests: { headers: Record<string, unknown> }[] }) =>
  sink.requests.map((r) => String(r.headers['webhook-id']))

describe('replay from the CLI', () => {
  it('finds why a message did not reach the bot, replays it, and it arrives once', async () => {
    let down = true
    const relay = await startRelay([
      { name: 'bot', respondWith: () => (down ? { status: 410, body: 'bot redeploying' } : {}) },
    ])
    const key = '191b80a9238:message:7'
    await relay.post(wgEvent({ id: 7, chat: '79990000007@c.us', text: 'order 7' }))
    await eventually(async () => (await deadCount(relay, 'bot')) === 1, 'the delivery to die')

    // Did it reach the bot? The event's page says no, and why.
    const detail = await relay.cli(['event', key])
    expect(detail.stdout).toMatch(/^delivery (\d+) to bot: dead, 1 attempt, finished .*Z$/m)
    expect(detail.stdout).toMatch(/^ {2}1\s+\S+Z\s+\d+ ms\s+410\s+[0-9a-f]{8}\s+bot redeploying$/m)
    const [dead] = await deliveries(relay, ['--status', 'dead'])
    expect(dead).toMatchObject({ target: 'bot', eventKey: key })

    down = false
    const before = relay.sinks.bot?.requests.length ?? 0
    const run = await relay.cli(['replay', String(dead?.id)])
    expect(run.err).toEqual([])
    expect(run.code).toBe(0)
    expect(run.out).toEqual(['replayed 1'])
    await eventually(
      async () =>
        json<{ status: string }>(await relay.cli(['delivery', String(dead?.id), '--json'])).status ===
        'delivered',
      'the replayed delivery to be delivered',
    )
    expect(keysReceived(relay.sinks.bot as never).slice(before)).toEqual([key])
    const after = await relay.cli(['event', key])
    expect(after.stdout).toMatch(/^delivery \d+ to bot: delivered, 1 attempt, finished .*Z$/m)

    // Again, by the event's key; a delivery still pending is not counted.
    const again = await relay.cli(['replay', '--event', key, '--json'])
    expect(json(again)).toEqual({ replayed: 1 })
    await relay.sinks.bot?.waitFor(before + 2)
    expect(keysReceived(relay.sinks.bot as never).slice(before)).toEqual([key, key])
    await eventually(
      async () => (await deliveries(relay, ['--status', 'pending'])).length === 0,
      'no pending',
    )
    const twice = await relay.cli(['replay', String(dead?.id), String(dead?.id), '99999'])
    expect(twice.out).toEqual(['replayed 1 of 2: 1 pending already, or not stored'])
    const unknown = await relay.cli(['replay', '--event', 'wa:message:404'])
    expect(unknown.code).toBe(1)
    expect(unknown.err).toEqual(['whatsgate-relay replay: unknown event "wa:message:404"'])
  })

  it(`replays 1,200 dead deliveries of a target in chunks of ${REPLAY_CHUNK}, drawing progress, each arriving once`, async () => {
    let down = true
    const relay = await startRelay([
      { name: 'bot', respondWith: () => (down ? { status: 410 } : {}) },
      { name: 'audit' },
    ])
    const total = 1200
    for (let start = 1; start <= total; start += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          relay.post(wgEvent({ id: start + i, chat: `${start + i}@c.us` })),
        ),
      )
    }
    await eventually(
      async () => (await deadCount(relay, 'bot')) === total,
      `${total} dead deliveries`,
      60_000,
    )
    await relay.sinks.audit?.waitFor(total)
    down = false
    const before = relay.sinks.bot?.requests.length ?? 0

    const run = await relay.cli(['replay', '--target', 'bot', '--dead'], { tty: true })
    expect(run.err).toEqual([])
    expect(run.code).toBe(0)
    expect(run.out).toEqual([`replayed ${total} dead deliveries of bot`])
    // One redraw per request of 500 ids, then the line ends.
    expect(run.progress).toEqual([
      `replaying [#############-----------------] 500/${total}  41%`,
      `replaying [#########################-----] 1000/${total}  83%`,
      `replaying [##############################] ${total}/${total} 100%`,
      null,
    ])
    await relay.sinks.bot?.waitFor(before + total, 30_000)
    const keys = keysReceived(relay.sinks.bot as never).slice(before)
    expect(new Set(keys).size).toBe(total)
    await eventually(async () => (await deadCount(relay, 'bot')) === 0, 'no dead delivery left')
    expect(relay.sinks.bot?.requests.length).toBe(before + total)
    // The other target's deliveries were not touched.
    expect(relay.sinks.audit?.requests.length).toBe(total)

    // Nothing dead any more: nothing replayed, and an unknown target is named, not replayed as none.
    expect((await relay.cli(['replay', '--target', 'bot', '--dead'])).out).toEqual([
      'replayed 0 dead deliveries of bot',
    ])
    const unknown = await relay.cli(['replay', '--target', 'bott', '--dead'])
    expect(unknown.code).toBe(1)
    expect(unknown.err).toEqual([
      `whatsgate-relay replay: unknown target "bott"; the relay's targets: bot, audit`,
    ])
  })

  it('replays ids read from stdin in chunks, one line per chunk off a terminal, and stops between chunks on Ctrl-C', async () => {
    let down = true
    const relay = await startRelay([{ name: 'bot', respondWith: () => (down ? { status: 410 } : {}) }])
    const total = 1100
    for (let start = 1; start <= total; start += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => relay.post(wgEvent({ id: start + i }))))
    }
    await eventually(
      async () => (await deadCount(relay, 'bot')) === total,
      `${total} dead deliveries`,
      60_000,
    )
    down = false
    const ids = (await deliveries(relay, ['--status', 'dead'])).map((d) => d.id)

    // Ctrl-C once the first request is answered: the second is not sent.
    const halted = await relay.cli(['replay', '-'], { stdin: ids.slice(0, 1000).join('\n'), interruptAt: 1 })
    expect(halted.code).toBe(1)
    expect(halted.err).toEqual([
      'replaying: 500/1000',
      'whatsgate-relay replay: interrupted: replayed 500 (500 of 1000 ids sent); run it again for the rest',
    ])
    expect(halted.out).toEqual([])
    await relay.sinks.bot?.waitFor(total + 500)
    await eventually(
      async () => (await deliveries(relay, ['--status', 'pending'])).length === 0,
      'no pending',
    )
    expect(relay.sinks.bot?.requests).toHaveLength(total + 500)

    // All of them, apart by commas and lines; those delivered since are sent again too.
    const run = await relay.cli(['replay', '-'], { stdin: `${ids.join(', ')}\n` })
    expect(run.code).toBe(0)
    expect(run.err).toEqual([
      `replaying: 500/${total}`,
      `replaying: 1000/${total}`,
      `replaying: ${total}/${total}`,
    ])
    expect(run.out).toEqual([`replayed ${total}`])
    await relay.sinks.bot?.waitFor(2 * total + 500, 30_000)
  })
})

describe('pause and resume from the CLI', () => {
  it("holds a target's deliveries while paused and sends them on resume", async () => {
    const relay = await startRelay([{ name: 'bot' }, { name: 'witness' }])
    const paused = await relay.cli(['pause', 'bot'])
    expect(paused.err).toEqual([])
    expect(paused.out).toEqual([
      expect.stringMatching(
        /^bot: paused since \d{4}-\S+Z; its deliveries wait, on every replica, until resume$/,
      ),
    ])
    expect((await relay.cli(['status'])).out).toContainEqual(
      expect.stringMatching(/^bot\s+http\s+paused\s+0\s+-$/),
    )

    for (let id = 1; id <= 3; id++) await relay.post(wgEvent({ id }))
    // The witness has them all: the bot's deliveries of the same events were written with them.
    await relay.sinks.witness?.waitFor(3)
    expect(relay.sinks.bot?.requests).toHaveLength(0)
    const waiting = await deliveries(relay, ['--target', 'bot', '--status', 'pending'])
    expect(waiting).toHaveLength(3)
    expect((await relay.cli(['status'])).out).toContainEqual(
      expect.stringMatching(/^bot\s+http\s+paused\s+3\s+\d+s$/),
    )

    const resumed = await relay.cli(['resume', 'bot', '--json'])
    expect(json(resumed)).toEqual({ name: 'bot', state: 'ok', pausedAt: null })
    await relay.sinks.bot?.waitFor(3)
    expect(keysReceived(relay.sinks.bot as never).sort()).toEqual(
      [1, 2, 3].map((id) => `191b80a9238:message:${id}`).sort(),
    )
    const again = await relay.cli(['resume', 'bot'])
    expect(again.out).toEqual(['bot: resumed (state ok); what waited goes out, oldest first'])
  })
})
