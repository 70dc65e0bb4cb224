// Backups of the SQLite outbox: taken with the CLI while the relay takes events, checked, and put
// in place by the next start of a relay on another DATA_DIR, which then delivers every event
// acknowledged before the backup began, once.
import { execFile } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { wgEvent } from '../support/events.ts'
import { freePort } from '../support/free-port.ts'
import { buildTestApp, TEST_TOKEN, tempDirsOfFile } from '../support/relay.ts'
import { PROJECT_ROOT, startRelayProcess, stopAllRelayProcesses } from '../support/relay-process.ts'
import { type Sink, startSink } from '../support/sink.ts'
import { cli } from './admin-relay.ts'

const freshDir = tempDirsOfFile('relay-backup-')
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  await stopAllRelayProcesses()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const idOf = (body: Buffer) => JSON.parse(body.toString()).id as number

/** `whatsgate-relay <args>` as a process of its own, beside the relay's. */
async function cliProcess(args: string[], env: Record<string, string>) {
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, ENV_FILE: '/dev/null', ...env }
  return promisify(execFile)(process.execPath, [join(PROJECT_ROOT, 'src/cli.ts'), ...args], {
    env: base,
    timeout: 30_000,
  })
}

describe('backup and restore', () => {
  it('a backup taken under load restores on a new DATA_DIR, and every event acked before it is delivered once', async () => {
    // The target is down while the first relay runs: every delivery stays in the outbox.
    const port = await freePort()
    // Short retries: what the first relay failed to send is due again soon after the restore.
    const retry = { maxAttempts: 1000, initialDelayMs: 50, maxDelayMs: 200 }
    const targets = JSON.stringify([
      { name: 'bot', url: `http://127.0.0.1:${port}/hook`, events: ['*'], retry },
    ])
    const first = await startRelayProcess({ env: { TARGETS: targets, ADMIN_TOKEN: 'off' } })
    const post = async (id: number) =>
      (await fetch(first.webhookUrl, { method: 'POST', body: wgEvent({ id }) })).status
    for (let id = 1; id <= 200; id++) expect(await post(id)).toBe(200)

    const file = join(freshDir(), 'relay-backup.sqlite')
    const env = { DATA_DIR: first.dataDir, INGEST_TOKEN: TEST_TOKEN, TARGETS: targets }
    // Events keep coming while the backup, a process of its own, copies the outbox.
    let next = 201
    let posting = true
    const load = (async () => {
      while (posting) expect(await post(next++)).toBe(200)
    })()
    const backup = await cliProcess(['backup', file], env)
    posting = false
    await load
    expect(backup.stderr).toBe('')
    expect(backup.stdout.trim()).toMatch(new RegExp(`^backed up (\\d+) events to ${file}$`))
    const backedUp = Number(/backed up (\d+)/.exec(backup.stdout)?.[1])
    expect(backedUp).toBeGreaterThanOrEqual(200)
    expect(backedUp).toBeLessThan(next)
    // A second backup to the same file is refused, the first one kept.
    expect((await cli(['backup', file], { env })).err).toEqual([
      expect.stringContaining('exists: give a new file'),
    ])

    // The first relay stops (its own backlog would reach the target too), and the backup is
    // restored on a new DATA_DIR, with the target up on the same address.
    expect(await first.kill('SIGTERM')).toEqual({ code: 0, signal: null })
    const dataDir = freshDir()
    const restoreEnv = { DATA_DIR: dataDir, INGEST_TOKEN: TEST_TOKEN, TARGETS: targets }
    const staged = await cli(['restore', file], { env: restoreEnv })
    expect(staged.code).toBe(0)
    expect(staged.out[0]).toMatch(
      new RegExp(`holds ${backedUp} events; the relay's next start puts it in place`),
    )
    const sink: Sink = await startSink({ port })
    cleanups.push(() => sink.close())
    const second = await buildTestApp({ TARGETS: targets, ADMIN_TOKEN: 'off' }, dataDir)
    cleanups.push(() => second.app.close())
    await second.app.ready()
    await sink.waitFor(backedUp, 20_000)
    const ids = sink.requests.map((request) => idOf(request.body))
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids.toSorted((a, b) => a - b)).toEqual(Array.from({ length: backedUp }, (_, i) => i + 1))
    expect(existsSync(join(dataDir, 'relay.sqlite.restore'))).toBe(false)
  })

  it('refuses a file that is not a whole outbox, and stages nothing', async () => {
    const dataDir = freshDir()
    const file = join(freshDir(), 'not-a-backup.sqlite')
    writeFileSync(file, 'SQLite format 3\0 and then nothing that SQLite can read')
    const run = await cli(['restore', file], { env: { DATA_DIR: dataDir, INGEST_TOKEN: TEST_TOKEN } })
    expect(run.code).toBe(1)
    expect(run.err).toEqual([expect.stringMatching(/^whatsgate-relay restore: .*not-a-backup\.sqlite/)])
    expect(existsSync(join(dataDir, 'relay.sqlite.restore'))).toBe(false)
    const usage = await cli(['restore'], { env: { DATA_DIR: dataDir } })
    expect(usage.code).toBe(2)
  })
})
