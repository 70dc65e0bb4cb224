// The CLI over the admin API of a running relay: a real relay on a real port, real targets, events
// posted through the webhook, and `whatsgate-relay status|events|event|deliveries|delivery` run
// in-process with nothing but RELAY_URL and ADMIN_TOKEN in its environment.
import { describe, expect, it } from 'vitest'
import { wgEvent } from '../support/events.ts'
import { freePort } from '../support/free-port.ts'
import { ADMIN_TOKEN, cli, eventually, json, startRelay } from './admin-relay.ts'

/** The characters of `text` a terminal would act on (line breaks and tabs aside). */
const controls = (text: string) =>
  [...text].filter((char) => {
    const code = char.codePointAt(0) ?? 0
    return (
      (code < 0x20 && code !== 0x0a && code !== 0x09) || (code >= 0x7f && code <= 0x9f) || code === 0x202e
    )
  })

const fastRetry = { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 50 }

describe('whatsgate-relay over the admin API', () => {
  it('status: the store, each target with its backlog, the registration; --json is the API document', async () => {
    const relay = await startRelay([
      { name: 'bot' },
      {
        name: 'crm',
        respondWith: () => ({ status: 503 }),
        retry: { maxAttempts: 3, initialDelayMs: 3_600_000, maxDelayMs: 3_600_000 },
      },
    ])
    await relay.post(wgEvent({ id: 1 }))
    await relay.post(wgEvent({ id: 2 }))
    // Delivered to bot (its answer recorded), waiting for crm's retry an hour away.
    await eventually(async () => {
      const { targets } = json<{ targets: { pending: number }[] }>(await relay.cli(['status', '--json']))
      return targets[0]?.pending === 0
    }, 'bot to have no backlog')

    const run = await relay.cli(['status'])
    expect(run.err).toEqual([])
    expect(run.code).toBe(0)
    expect(run.out[0]).toMatch(/^relay \d+\.\d+\.\d+ at http:\/\/127\.0\.0\.1:\d+, up \d+[smhd]( \d+[smh])?$/)
    expect(run.out).toContain('store sqlite, healthy')
    expect(run.out).toContain('events received: 2 in the last minute, 2 in the last hour')
    const targets = run.out.slice(run.out.findIndex((line) => line.startsWith('TARGET')))
    expect(targets[0]).toMatch(/^TARGET\s+TYPE\s+STATE\s+PENDING\s+OLDEST WAITING$/)
    expect(targets[1]).toMatch(/^bot\s+http\s+ok\s+0\s+-$/)
    expect(targets[2]).toMatch(/^crm\s+http\s+ok\s+2\s+\d+s$/)
    // On SQLite the one replica is this process.
    const replicas = run.out.slice(run.out.findIndex((line) => line.startsWith('REPLICA')))
    expect(replicas[0]).toMatch(/^REPLICA\s+STATE\s+STARTED\s+LAST BEAT$/)
    expect(replicas[1]).toMatch(/^[0-9a-f]{8} \(this one\)\s+alive\s+\S+Z\s+\S+Z$/)
    expect(replicas[2]).toBe('')
    expect(run.stdout).toContain('WhatsGate registration: not run by this relay')

    const document = json(await relay.cli(['status', '--json']))
    expect(document).toMatchObject({
      store: { kind: 'sqlite', healthy: true },
      targets: [
        { name: 'bot', state: 'ok', pending: 0 },
        { name: 'crm', state: 'ok', pending: 2 },
      ],
      registration: null,
      eventsReceived: { lastMinute: 2, lastHour: 2 },
      replicas: [{ id: expect.stringMatching(/^[0-9a-f-]{36}$/), alive: true, current: true }],
    })
  })

  it('events: newest first, filtered by session, action, non-conforming, time, outcome; --limit pages both ways and --all follows the cursor', async () => {
    const relay = await startRelay([{ name: 'bot' }])
    for (let id = 1; id <= 5; id++) await relay.post(wgEvent({ id, whatsappId: 'wa-one' }))
    await relay.post(wgEvent({ id: 6, whatsappId: 'wa-two' }))
    await relay.post(wgEvent({ id: 7, whatsappId: 'wa-two', action: 'ready' }))
    const drifted = { ...JSON.parse(wgEvent({ id: 8, whatsappId: 'wa-two' })), event_date: 'soon' }
    await relay.post(JSON.stringify(drifted))

    const all = await relay.cli(['events'])
    expect(all.code).toBe(0)
    expect(all.out[0]).toMatch(/^SEQ\s+RECEIVED\s+KEY\s+CHAT\s+OUTCOMES\s+ISSUES$/)
    expect(all.out).toHaveLength(9)
    expect(all.out[8]).toMatch(
      /^1\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+wa-one:message:1\s.*bot:(pending|delivered)/,
    )
    expect(all.out[1]).toMatch(/wa-two:message:8\s.*event_date$/)

    const keysOf = (run: { out: string[] }) => run.out.slice(1).map((line) => line.split(/\s+/)[2])
    expect(keysOf(await relay.cli(['events', '--session', 'wa-two']))).toEqual([
      'wa-two:message:8',
      'wa-two:ready:7',
      'wa-two:message:6',
    ])
    expect(keysOf(await relay.cli(['events', '--session', 'wa-two', '--action', 'ready']))).toEqual([
      'wa-two:ready:7',
    ])
    expect(keysOf(await relay.cli(['events', '--nonconforming']))).toEqual(['wa-two:message:8'])
    expect((await relay.cli(['events', '--from', '1h', '--to', '2099-01-01'])).out).toHaveLength(9)
    expect((await relay.cli(['events', '--from', '2099-01-01'])).out).toEqual(['no events match'])

    // Every event is delivered to bot in the end: an outcome filter finds them all, and none dead.
    await eventually(
      async () => (await relay.cli(['events', '--outcome', 'delivered', '--target', 'bot'])).out.length === 9,
      'every event delivered',
    )
    expect((await relay.cli(['events', '--outcome', 'dead'])).out).toEqual(['no events match'])

    // The newest two rows, and where the older page starts; then from there; then back up; then
    // every row, in pages of 1,000.
    const page = await relay.cli(['events', '--limit', '2'])
    expect(keysOf({ out: page.out.slice(0, 3) })).toEqual(['wa-two:message:8', 'wa-two:ready:7'])
    expect(page.out.at(-1)).toBe('older events: --before 7 (or --all)')
    const rest = json<{ events: { key: string }[]; older: number | null; newer: number | null }>(
      await relay.cli(['events', '--before', '7', '--limit', '3', '--json']),
    )
    expect(rest.events.map((e) => e.key)).toEqual([
      'wa-two:message:6',
      'wa-one:message:5',
      'wa-one:message:4',
    ])
    expect(rest).toMatchObject({ older: 4, newer: 6 })
    const back = json<{ events: { key: string }[]; newer: number | null }>(
      await relay.cli(['events', '--after', '6', '--json']),
    )
    expect(back.events.map((e) => e.key)).toEqual(['wa-two:message:8', 'wa-two:ready:7'])
    expect(back.newer).toBeNull()
    const every = json<{ events: unknown[]; older: null }>(await relay.cli(['events', '--all', '--json']))
    expect(every.events).toHaveLength(8)
    expect(every.older).toBeNull()
    expect((await relay.cli(['events', '--before', '3', '--after', '1'])).code).toBe(2)
  })

  it('deliveries: filtered by status, target, session and time', async () => {
    const relay = await startRelay([{ name: 'bot' }, { name: 'gone', respondWith: () => ({ status: 410 }) }])
    await relay.post(wgEvent({ id: 1, whatsappId: 'wa-one' }))
    await relay.post(wgEvent({ id: 2, whatsappId: 'wa-two' }))
    await eventually(
      async () =>
        json<{ deliveries: unknown[] }>(await relay.cli(['deliveries', '--status', 'pending', '--json']))
          .deliveries.length === 0,
      'every delivery finished',
    )
    const rowsOf = async (args: string[]) => {
      const run = await relay.cli(['deliveries', ...args])
      expect(run.err, args.join(' ')).toEqual([])
      return run.out.slice(1).map((line) => {
        const [, target, status, , , , key] = line.split(/\s+/)
        return `${target} ${status} ${key}`
      })
    }
    expect(await rowsOf([])).toEqual([
      'gone dead wa-two:message:2',
      'bot delivered wa-two:message:2',
      'gone dead wa-one:message:1',
      'bot delivered wa-one:message:1',
    ])
    expect(await rowsOf(['--status', 'dead'])).toEqual([
      'gone dead wa-two:message:2',
      'gone dead wa-one:message:1',
    ])
    expect(await rowsOf(['--target', 'bot', '--session', 'wa-two'])).toEqual([
      'bot delivered wa-two:message:2',
    ])
    expect(
      await rowsOf(['--from', '10m', '--to', '2099-01-01 00:00', '--status', 'dead', '--target', 'gone']),
    ).toEqual(['gone dead wa-two:message:2', 'gone dead wa-one:message:1'])
    expect((await relay.cli(['deliveries', '--to', '2000-01-01'])).out).toEqual(['no deliveries match'])
  })

  it('events --chat finds a chat by its jid or its phone number', async () => {
    const relay = await startRelay([{ name: 'bot' }])
    await relay.post(wgEvent({ id: 1, chat: '79990000001@c.us' }))
    await relay.post(wgEvent({ id: 2, chat: '79990000002@c.us' }))
    await relay.post(wgEvent({ id: 3, chat: '79990000001@c.us' }))
    for (const chat of ['79990000001@c.us', '79990000001']) {
      const run = await relay.cli(['events', '--chat', chat, '--json'])
      expect(run.err, chat).toEqual([])
      expect(
        json<{ events: { key: string }[] }>(run).events.map((e) => e.key),
        chat,
      ).toEqual(['191b80a9238:message:3', '191b80a9238:message:1'])
    }
  })

  it('event <key>: the event, its body, each delivery and each attempt with status or error, duration, replica, answer', async () => {
    const relay = await startRelay([
      {
        name: 'bot',
        retry: fastRetry,
        respondWith: (_, i) => (i === 0 ? { status: 500, body: '{"error":"db down"}\nline two' } : {}),
      },
      { name: 'gone', respondWith: () => ({ status: 410, body: 'no such hook' }) },
    ])
    const key = '191b80a9238:message:1'
    await relay.post(wgEvent({ id: 1, text: 'where is my order?' }))
    await eventually(async () => {
      const detail = json<{ deliveries: { status: string }[] }>(await relay.cli(['event', key, '--json']))
      return detail.deliveries.length === 2 && detail.deliveries.every((d) => d.status !== 'pending')
    }, 'both deliveries finished')

    const run = await relay.cli(['event', key])
    expect(run.err).toEqual([])
    expect(run.code).toBe(0)
    const text = run.stdout
    expect(run.out[0]).toBe(`event     ${key}`)
    expect(text).toMatch(/^session\s+191b80a9238$/m)
    expect(text).toMatch(/^issues\s+none$/m)
    expect(text).toContain('where is my order?')
    expect(text).toMatch(/^delivery \d+ to bot: delivered, 2 attempts, finished \d{4}-.*Z$/m)
    expect(text).toMatch(/^ {2}#\s+STARTED\s+DURATION\s+RESULT\s+REPLICA\s+ERROR OR ANSWER$/m)
    // The answer's first line only; the replica as its first 8 characters.
    expect(text).toMatch(/^ {2}1\s+\S+Z\s+\d+ ms\s+500\s+[0-9a-f]{8}\s+\{"error":"db down"\}$/m)
    expect(text).toMatch(/^ {2}2\s+\S+Z\s+\d+ ms\s+200\s+[0-9a-f]{8}\s+\{"ok":true\}$/m)
    expect(text).not.toContain('line two')
    expect(text).toMatch(/^delivery \d+ to gone: dead, 1 attempt, finished .*Z$/m)
    expect(text).toMatch(/^ {2}1\s+\S+Z\s+\d+ ms\s+410\s+[0-9a-f]{8}\s+no such hook$/m)

    const id = Number(/^delivery (\d+) to bot/m.exec(text)?.[1])
    const one = await relay.cli(['delivery', String(id)])
    expect(one.code).toBe(0)
    expect(one.out[0]).toMatch(new RegExp(`^delivery ${id} to bot: delivered, 2 attempts`))
    expect(one.out[1]).toBe(`  event ${key}`)
    const document = json<{ id: number; history: { status: number }[] }>(
      await relay.cli(['delivery', String(id), '--json']),
    )
    expect(document.history.map((a) => a.status)).toEqual([500, 200])

    const deliveries = await relay.cli(['deliveries', '--status', 'dead'])
    expect(deliveries.out[0]).toMatch(
      /^ID\s+TARGET\s+STATUS\s+ATTEMPTS\s+RECEIVED\s+FINISHED\s+EVENT\s+LAST$/,
    )
    expect(deliveries.out.slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^\\d+\\s+gone\\s+dead\\s+1\\s+\\S+Z\\s+\\S+Z\\s+${key}\\s+410$`)),
    ])
  })

  it('shows data from events as text: control characters cannot drive the terminal, in tables or in JSON', async () => {
    const hostile = 'hi \u001b]0;pwned\u0007 \u001b[2J \u009b31m \u202eevil\r\nnext'
    const relay = await startRelay([{ name: 'bot', respondWith: () => ({ status: 410, body: hostile }) }])
    const key = '191b80a9238:message:1'
    await relay.post(wgEvent({ id: 1, text: hostile }))
    await relay.post(JSON.stringify({ id: 2, whatsapp_id: 'wa\u001b[31m', event_action: 'message' }))
    await eventually(
      async () =>
        json<{ deliveries: unknown[] }>(await relay.cli(['deliveries', '--status', 'dead', '--json']))
          .deliveries.length === 2,
      'two dead deliveries',
    )
    const runs = await Promise.all([
      relay.cli(['event', key]),
      relay.cli(['event', key, '--json']),
      relay.cli(['events']),
      relay.cli(['deliveries']),
      relay.cli(['event', 'wa\u001b[31m:message:2']),
    ])
    for (const run of runs) {
      expect(run.code).toBe(0)
      expect(controls(run.stdout)).toEqual([])
    }
    expect(runs[0]?.stdout).toContain('\\x1b]0;pwned\\x07')
    expect(runs[4]?.stdout).toContain('wa\\x1b[31m:message:2')
    // The JSON is still the same document.
    const body = json<{ body: string }>(runs[1] as never).body
    expect(JSON.parse(body).event_data.message.body).toBe(hostile)
  })

  it('fails with exit 1 and one line: a wrong token (never printed), no relay, no admin API, a bad filter, an unknown key', async () => {
    const relay = await startRelay([{ name: 'bot' }])
    const wrong = 'wrong-token-0123456789abcdef'
    const refused = await relay.cli(['status'], { env: { ADMIN_TOKEN: wrong } })
    expect(refused.code).toBe(1)
    expect(refused.err).toEqual([
      `whatsgate-relay status: the relay refused ADMIN_TOKEN (${relay.url} answered 401)`,
    ])
    expect(refused.out).toEqual([])
    for (const run of [refused, await relay.cli(['events'], { env: { ADMIN_TOKEN: wrong } })]) {
      expect(run.stdout + run.err.join('\n')).not.toContain(wrong)
    }

    const missing = await relay.cli(['status'], { env: { ADMIN_TOKEN: undefined } })
    expect(missing.code).toBe(1)
    expect(missing.err).toEqual([expect.stringContaining('ADMIN_TOKEN is not set')])

    const port = await freePort()
    const nobody = await cli(['status'], { env: { RELAY_URL: `http://127.0.0.1:${port}`, ADMIN_TOKEN } })
    expect(nobody.code).toBe(1)
    expect(nobody.err).toEqual([
      `whatsgate-relay status: no relay answers at http://127.0.0.1:${port} (connection refused)`,
    ])
    // Without RELAY_URL: the relay's own PORT on this machine.
    const byPort = await cli(['events'], { env: { PORT: String(port), ADMIN_TOKEN } })
    expect(byPort.err).toEqual([expect.stringContaining(`no relay answers at http://127.0.0.1:${port}`)])

    const badFrom = await relay.cli(['events', '--from', 'yesterday'])
    expect(badFrom.code).toBe(1)
    expect(badFrom.err).toEqual([expect.stringMatching(/^whatsgate-relay events: bad query: --from: /)])
    const badStatus = await relay.cli(['deliveries', '--status', 'lost'])
    expect(badStatus.code).toBe(1)
    expect(badStatus.err).toEqual([
      expect.stringMatching(/^whatsgate-relay deliveries: bad query: --status: /),
    ])

    const unknown = await relay.cli(['event', 'wa:message:404'])
    expect(unknown.code).toBe(1)
    expect(unknown.err).toEqual(['whatsgate-relay event: unknown event "wa:message:404"'])
    const badKey = await relay.cli(['event', 'no-key'])
    expect(badKey.err).toEqual([expect.stringMatching(/^whatsgate-relay event: [^:]+: <key>: must be /)])
    expect((await relay.cli(['delivery', '999'])).err).toEqual([
      'whatsgate-relay delivery: unknown delivery 999',
    ])
    expect((await relay.cli(['pause', 'nope'])).err).toEqual(['whatsgate-relay pause: unknown target "nope"'])

    const closed = await startRelay([{ name: 'bot' }], { ADMIN_TOKEN: 'off' })
    const off = await cli(['status'], { env: { RELAY_URL: closed.url, ADMIN_TOKEN } })
    expect(off.code).toBe(1)
    expect(off.err).toEqual([expect.stringContaining('has no admin API: its ADMIN_TOKEN is off')])
  })

  it('refuses bad arguments with exit 2 and one line, before asking anything', async () => {
    // A relay that would answer every request: exit 2 proves none was made.
    const relay = await startRelay([{ name: 'bot' }])
    const cases = [
      ['event'],
      ['event', 'a:b:1', 'a:b:2'],
      ['delivery', 'abc'],
      ['delivery', '0'],
      ['replay'],
      ['replay', '1', '--event', 'a:b:1'],
      ['replay', '--target', 'bot'],
      ['replay', '--dead'],
      ['replay', '1', 'x'],
      ['pause'],
      ['status', 'extra'],
      ['events', '--limit', '0'],
      ['events', '--limit', '10', '--all'],
      ['events', '--after', '-1'],
      ['events', '--status', 'dead'],
      ['deliveries', '--chat', '1'],
      ['events', '--bogus'],
      ['status', '--url', 'ftp://relay'],
    ]
    for (const args of cases) {
      const run = await relay.cli(args)
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.err, args.join(' ')).toHaveLength(1)
      expect(run.out, args.join(' ')).toEqual([])
    }
    const stdin = await relay.cli(['replay', '-'], { stdin: '12 abc' })
    expect(stdin.code).toBe(2)
    expect(stdin.err).toEqual(['whatsgate-relay replay: stdin holds "abc", not a delivery id'])
  })

  it('--help lists the admin commands, RELAY_URL and ADMIN_TOKEN', async () => {
    for (const args of [['--help'], ['events', '--help'], ['replay', '-h']]) {
      const run = await cli(args)
      expect(run.code).toBe(0)
      for (const word of [
        'status',
        'events',
        'event <key>',
        'deliveries',
        'delivery <id>',
        'replay',
        'pause',
        'resume',
      ]) {
        expect(run.stdout, word).toContain(word)
      }
      for (const word of ['RELAY_URL', 'ADMIN_TOKEN', '--url', '--json', '--all', '--chat', '--dead']) {
        expect(run.stdout, word).toContain(word)
      }
    }
  })
})
