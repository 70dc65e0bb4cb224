// A relay that cannot listen says so in one line naming HOST and PORT, as a bad variable does; and
// a token it generated, never announced, is not kept: the start that listens makes and logs one.
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDirsOfFile } from '../support/relay.ts'
import {
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

  it('is not logged when INGEST_TOKEN is set: the operator already has it', async () => {
    const relay = await startRelayProcess({ dataDir: freshDir() })
    expect(await relay.kill('SIGTERM')).toEqual({ code: 0, signal: null })
    expect(relay.stdoutLines.filter((l) => l.includes('callback URL') || l.includes(relay.token))).toEqual([])
  })
})
