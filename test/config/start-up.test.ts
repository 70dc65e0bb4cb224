// A relay that cannot listen says so in one line naming HOST and PORT, as a bad variable does; and
// a token it generated, never announced, is not kept: the start that listens makes and logs one.
// Start-up tells the truth: no target is a warning (log and /readyz), and what the relay writes to
// DATA_DIR is its user's alone.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { buildTestApp, tempDirsOfFile } from '../support/relay.ts'
import {
  logRecords,
  type RelayChild,
  spawnRelay,
  startRelayProcess,
  stopAllRelayProcesses,
} from '../support/relay-process.ts'

const freshDir = tempDirsOfFile('relay-start-')
const servers: Server[] = []
afterEach(async () => {
  await stopAllRelayProcesses()
  for (const server of servers.splice(0)) server.close()
})

/** A port another program holds for the rest of the test. */
async function busyPort(): Promise<number> {
  const server = createServer()
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as { port: number }).port
}

async function expectOneLineFailure(relay: RelayChild, expected: RegExp[]) {
  const exit = await relay.exited
  expect(exit.code).not.toBe(0)
  expect(exit.code).not.toBeNull()
  expect(relay.stderrLines, relay.stderrLines.join('\n')).toHaveLength(1)
  const line = relay.stderrLines[0] as string
  for (const pattern of expected) expect(line).toMatch(pattern)
  expect(line).not.toMatch(/\bat .*:\d+:\d+|Error:/)
  expect(relay.stdoutLines.join('\n')).not.toMatch(/\n\s+at |Server listening/)
}

describe('a relay that cannot listen', () => {
  it('PORT in use: exits non-zero with one line naming HOST, PORT and the reason', async () => {
    const port = await busyPort()
    const relay = spawnRelay({ dataDir: freshDir(), env: { PORT: String(port) } })
    await expectOneLineFailure(relay, [new RegExp(`HOST=127\\.0\\.0\\.1 PORT=${port}\\b`), /already in use/])
  })

  it('HOST that does not resolve: one line naming HOST', async () => {
    const relay = spawnRelay({ dataDir: freshDir(), env: { HOST: 'no-such-host.invalid', PORT: '0' } })
    await expectOneLineFailure(relay, [/HOST=no-such-host\.invalid PORT=0\b/, /resolve/])
  })

  it('HOST that is not an address of this machine: one line naming HOST', async () => {
    // 192.0.2.0/24 is TEST-NET-1: never assigned to a real interface.
    const relay = spawnRelay({ dataDir: freshDir(), env: { HOST: '192.0.2.1', PORT: '0' } })
    await expectOneLineFailure(relay, [/HOST=192\.0\.2\.1 PORT=0\b/, /not an address of this machine/])
  })
})

describe('the callback URL of a generated token', () => {
  const callbackLine = (token: string) => (line: string) =>
    line.includes('WhatsGate callback URL') && line.includes(`/webhook/${token}`)

  it('is logged by the start that listens, even when an earlier start could not listen', async () => {
    const dataDir = freshDir()
    const first = spawnRelay({ dataDir, env: { INGEST_TOKEN: undefined, PORT: String(await busyPort()) } })
    expect((await first.exited).code).not.toBe(0)
    // It never listened, so it never gave a callback URL, and kept no token nobody was told of.
    expect(existsSync(join(dataDir, 'ingest-token'))).toBe(false)
    expect(first.stdoutLines.filter((line) => line.includes('callback URL'))).toEqual([])

    const second = await startRelayProcess({ dataDir, env: { INGEST_TOKEN: undefined } })
    const token = second.token
    const line = await second.waitForLine(callbackLine(token))
    expect(JSON.parse(line).msg).toMatch(new RegExp(`:${second.port}/webhook/${token}$`))
    expect(await second.kill('SIGTERM')).toEqual({ code: 0, signal: null })
    // The token is a secret: the one line that gives the URL is the only one that shows it.
    expect(second.stdoutLines.filter((l) => l.includes(token))).toEqual([line])
    expect(second.stderrLines.filter((l) => l.includes(token))).toEqual([])
  })

  it('is logged at every other start with its token cut short, beside the dashboard address', async () => {
    const relay = await startRelayProcess({ dataDir: freshDir() })
    const line = await relay.waitForLine((l) => l.includes('WhatsGate callback URL'))
    expect(JSON.parse(line).msg).toMatch(
      new RegExp(
        `:${relay.port}/webhook/${relay.token.slice(0, 4)}… \\(npx whatsgate-relay callback-url prints it whole\\)$`,
      ),
    )
    const dashboard = await relay.waitForLine((l) => l.includes('dashboard:'))
    expect(JSON.parse(dashboard).msg).toMatch(
      new RegExp(
        `^generated an admin token \\(in .*/admin-token\\); dashboard: http://.*:${relay.port}/admin/ `,
      ),
    )
    expect(await relay.kill('SIGTERM')).toEqual({ code: 0, signal: null })
    // Neither secret is in the log whole.
    const adminToken = readFileSync(join(relay.dataDir, 'admin-token'), 'utf8').trim()
    expect(relay.stdoutLines.filter((l) => l.includes(relay.token) || l.includes(adminToken))).toEqual([])
  })
})

describe('start-up tells the truth', () => {
  const NO_TARGET = 'no target configured: events are stored and acknowledged but forwarded nowhere'

  it('without a target: one warn at start, and the same words in /readyz, which stays ready', async () => {
    const relay = await startRelayProcess({ dataDir: freshDir() })
    const warned = logRecords(relay.stdoutLines).filter((r) => String(r.msg).startsWith(NO_TARGET))
    expect(warned).toHaveLength(1)
    expect(warned[0]?.level).toBe(40)
    const ready = await fetch(`${relay.url}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: 'ready', warnings: [warned[0]?.msg] })
  })

  it('with a target: no such warning, and none in /readyz', async () => {
    const relay = await startRelayProcess({
      dataDir: freshDir(),
      env: { FORWARD_URL: 'http://127.0.0.1:9/hook' },
    })
    expect(relay.stdoutLines.filter((line) => line.includes(NO_TARGET))).toEqual([])
    const body = await (await fetch(`${relay.url}/readyz`)).json()
    expect(body).toMatchObject({ status: 'ready' })
    expect(body).not.toHaveProperty('warnings')
  })

  it('DATA_DIR and every file of the store and token are made readable by the relay user only', async () => {
    const parent = join(freshDir(), 'made-by-the-relay')
    const dataDir = join(parent, 'data')
    const relay = await startRelayProcess({ dataDir, env: { INGEST_TOKEN: undefined } })
    // The WAL and its index exist while the relay runs: look before it stops.
    const files = readdirSync(dataDir).sort()
    expect(files).toEqual([
      'admin-token',
      'ingest-token',
      'relay.sqlite',
      'relay.sqlite-shm',
      'relay.sqlite-wal',
    ])
    const modes = Object.fromEntries(
      [parent, dataDir, ...files.map((f) => join(dataDir, f))].map((p) => [p, statSync(p).mode & 0o777]),
    )
    expect(modes).toEqual({
      [parent]: 0o700,
      [dataDir]: 0o700,
      ...Object.fromEntries(files.map((f) => [join(dataDir, f), 0o600])),
    })
    expect(await relay.kill('SIGTERM')).toEqual({ code: 0, signal: null })
  })

  it('a relay built in-process, without the umask main.ts sets, still makes DATA_DIR owner-only', async () => {
    const dataDir = join(freshDir(), 'data')
    const relay = await buildTestApp({}, dataDir)
    try {
      expect(statSync(dataDir).mode & 0o777).toBe(0o700)
    } finally {
      await relay.close()
    }
  })
})
