// A newcomer's first ten minutes, as the README's first screen tells them: `cp .env.example .env`,
// set FORWARD_URL, start; give WhatsGate the logged callback URL; receive signed events; open the
// logged dashboard (a one-time link from the CLI) and find WhatsGate's own example message by the
// sender's phone. The relay and the CLI run as processes in the newcomer's folder, reading its .env.
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Webhook } from 'standardwebhooks'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDirsOfFile } from '../support/relay.ts'
import { PROJECT_ROOT, startRelayProcess, stopAllRelayProcesses } from '../support/relay-process.ts'
import { type Sink, startSink } from '../support/sink.ts'

const freshDir = tempDirsOfFile('relay-newcomer-')
const sinks: Sink[] = []
afterEach(async () => {
  await stopAllRelayProcesses()
  for (const sink of sinks.splice(0)) await sink.close()
})

/** `npx whatsgate-relay <args>` in the newcomer's folder: it reads the same .env. */
async function cli(cwd: string, args: string[]): Promise<string> {
  const env = { ...process.env }
  for (const name of ['ENV_FILE', 'DATA_DIR', 'ADMIN_TOKEN', 'RELAY_URL', 'PORT', 'FORWARD_SECRET'])
    delete env[name]
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(PROJECT_ROOT, 'src/cli.ts'), ...args],
    {
      cwd,
      env,
      timeout: 20_000,
    },
  )
  return stdout.trim()
}

describe('the first ten minutes', () => {
  it('cp .env.example .env, FORWARD_URL, start: signed events arrive, and the dashboard finds the example by phone', async () => {
    const sink = await startSink()
    sinks.push(sink)
    const folder = freshDir()
    const example = readFileSync(join(PROJECT_ROOT, '.env.example'), 'utf8')
    writeFileSync(join(folder, '.env'), `${example}\nFORWARD_URL=${sink.url}\n`)

    const relay = await startRelayProcess({
      cwd: folder,
      entry: join(PROJECT_ROOT, 'src/main.ts'),
      dataDir: join(folder, 'data'),
      env: { ENV_FILE: undefined, INGEST_TOKEN: undefined },
    })
    // The port the CLI asks, as the newcomer's .env would say it.
    writeFileSync(join(folder, '.env'), `${example}\nFORWARD_URL=${sink.url}\nPORT=${relay.port}\n`)

    const callback = JSON.parse(await relay.waitForLine(/WhatsGate callback URL/)).msg as string
    const url = /(http:\/\/\S+\/webhook\/\S+)$/.exec(callback)?.[1] as string
    expect(url).toBe(`http://127.0.0.1:${relay.port}/webhook/${relay.token}`)
    const dashboard = JSON.parse(await relay.waitForLine(/dashboard: /)).msg as string
    expect(dashboard).toContain(`http://127.0.0.1:${relay.port}/admin/`)

    // WhatsGate posts its own example event to the URL it was given.
    const event = readFileSync(join(PROJECT_ROOT, 'test/fixtures/event-message.json'))
    const posted = await fetch(url, { method: 'POST', body: event })
    expect(await posted.json()).toEqual({ result: 'OK', id: 18 })

    await sink.waitFor(1)
    const [request] = sink.requests
    if (!request) throw new Error('nothing arrived')
    expect(request.body.equals(event)).toBe(true)
    const secret = await cli(folder, ['secret'])
    const headers = request.headers as Record<string, string>
    expect(new Webhook(secret).verify(request.body.toString(), headers)).toMatchObject({ id: 18 })

    // The dashboard, by the one-time link, and the example found by its sender's phone.
    const [link = ''] = (await cli(folder, ['admin-url'])).split('\n')
    const opened = await fetch(link, { redirect: 'manual' })
    const cookie = String(opened.headers.get('set-cookie')).split(';')[0] as string
    const found = await fetch(`${relay.url}/admin/events?party=${encodeURIComponent('+7 999 111-22-33')}`, {
      headers: { cookie },
    })
    expect(found.status).toBe(200)
    expect((await found.json()).events.map((e: { key: string }) => e.key)).toEqual(['191b80a9238:message:18'])
  })
})
