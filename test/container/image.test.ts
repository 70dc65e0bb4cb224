// The Dockerfile as it is, built and run by a real container engine (Docker where a daemon answers,
// else podman): healthy by its own HEALTHCHECK, an event taken and forwarded signed to a target on
// the host, read-only but for /data, as the unprivileged `node` user, and a restart on the same
// volume and a SIGTERM that lose nothing. `npm run test:container` runs it (vitest.container.config.ts);
// without an engine it skips saying why, and under TEST_CONTAINER_REQUIRED=1 (.ci/run) it fails.
import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { wgEvent } from '../support/events.ts'
import { freePort } from '../support/free-port.ts'
import { PROJECT_ROOT } from '../support/relay-process.ts'
import { type Sink, startSink } from '../support/sink.ts'
import { type EngineName, findEngine, run, runOk } from './engine.ts'
import { ensureBaseImage } from './stand-in.ts'

const found = findEngine()
const skipReason = 'reason' in found ? found.reason : null
if (skipReason && process.env.TEST_CONTAINER_REQUIRED === '1') {
  throw new Error(`TEST_CONTAINER_REQUIRED=1 but the image cannot be tested: ${skipReason}`)
}
if (skipReason) console.warn(`Container tests skipped: ${skipReason}`)
const engine: EngineName = 'engine' in found ? found.engine : 'docker'

const IMAGE = 'whatsgate-relay:container-test'
const SECRET = `whsec_${randomBytes(24).toString('base64')}`
const ADMIN_TOKEN = randomBytes(16).toString('hex')
const SHUTDOWN_TIMEOUT_MS = 5000
const BUILD_TIMEOUT_MS = 30 * 60_000

const log = (line: string) => console.log(`[container] ${line}`)

/** How long `fn` took, in seconds with one decimal. */
async function timed<T>(fn: () => Promise<T>): Promise<[T, string]> {
  const started = Date.now()
  const result = await fn()
  return [result, ((Date.now() - started) / 1000).toFixed(1)]
}

describe.skipIf(skipReason)(`the image, built and run by ${engine}`, () => {
  // Names of this run only: a run that was killed leaves nothing a later one trips over.
  const volume = `whatsgate-relay-test-${process.pid}-${Date.now()}`
  const relay = (n: number) => `${volume}-relay-${n}`
  const containers: string[] = []
  let sink: Sink
  let port: number
  let token = ''

  beforeAll(
    async () => {
      log(`engine: ${engine}`)
      const [base, baseSeconds] = await timed(() => ensureBaseImage(engine, log))
      log(`base image: ${base} (${baseSeconds} s)`)
      // podman writes OCI images by default, which have no HEALTHCHECK: the docker format keeps it.
      // Host networking for the build's `npm ci` too, so it needs no bridge network.
      const format = engine === 'podman' ? ['--format', 'docker'] : []
      const [, buildSeconds] = await timed(() =>
        runOk(engine, ['build', ...format, '--network', 'host', '-t', IMAGE, PROJECT_ROOT], {
          timeoutMs: BUILD_TIMEOUT_MS,
          onLine: (line) => /^(STEP|#\d+ \[)/.test(line) && log(line),
        }),
      )
      const bytes = Number(await runOk(engine, ['image', 'inspect', '--format', '{{.Size}}', IMAGE]))
      log(`built ${IMAGE} in ${buildSeconds} s; image size ${(bytes / 1e6).toFixed(1)} MB`)
      sink = await startSink()
      port = await freePort()
      await runOk(engine, ['volume', 'create', volume])
    },
    BUILD_TIMEOUT_MS + 20 * 60_000,
  )

  afterAll(async () => {
    for (const name of containers) await run(engine, ['rm', '-f', name])
    await run(engine, ['volume', 'rm', '-f', volume])
    await sink?.close()
  })

  /**
   * A container of the image on the test's volume. Host networking: it reaches the target on the
   * host's 127.0.0.1 and listens there. Read-only root; podman would add tmpfs on /tmp, /var/tmp
   * and /run to --read-only, Docker does not: without them only /data is writable in either.
   */
  async function startRelay(name: string): Promise<void> {
    const targets = JSON.stringify([
      {
        name: 'host',
        url: `${sink.url}/hook`,
        events: ['*'],
        secret: SECRET,
        retry: { initialDelayMs: 500, maxDelayMs: 1000 },
      },
    ])
    const readOnly = engine === 'podman' ? ['--read-only', '--read-only-tmpfs=false'] : ['--read-only']
    const env = {
      HOST: '127.0.0.1',
      PORT: String(port),
      TARGETS: targets,
      REGISTER_ON_START: 'false',
      BACKFILL_ON_START: 'false',
      ADMIN_TOKEN,
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
    }
    const envArgs = Object.entries(env).flatMap(([key, value]) => ['-e', `${key}=${value}`])
    containers.push(name)
    await runOk(engine, [
      'run',
      '-d',
      '--name',
      name,
      '--network',
      'host',
      ...readOnly,
      '-v',
      `${volume}:/data`,
      ...envArgs,
      IMAGE,
    ])
    const deadline = Date.now() + 30_000
    while (
      !(await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (Date.now() > deadline) throw new Error(`${name} did not answer /healthz:\n${await logs(name)}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }

  async function logs(name: string): Promise<string> {
    const result = await run(engine, ['logs', name])
    return result.stdout + result.stderr
  }

  function postEvent(id: number): Promise<Response> {
    return fetch(`http://127.0.0.1:${port}/webhook/${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: wgEvent({ id }),
    })
  }

  function admin(path: string): Promise<unknown> {
    return fetch(`http://127.0.0.1:${port}${path}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    }).then((answer) => answer.json())
  }

  /** The attempts made so far for the pending deliveries (all five are pending until the target is back). */
  async function pendingAttempts(): Promise<number> {
    const { deliveries } = (await admin('/admin/deliveries?status=pending')) as {
      deliveries: { attempts: number }[]
    }
    expect(deliveries).toHaveLength(5)
    return deliveries.reduce((sum, delivery) => sum + delivery.attempts, 0)
  }

  /** Every request the target got is signed with the secret; the events' ids. */
  function verifiedIds(): number[] {
    const webhook = new Webhook(SECRET)
    return sink.requests.map((request) => {
      const event = webhook.verify(request.body.toString('utf8'), request.headers as Record<string, string>)
      return (event as { id: number }).id
    })
  }

  /** Every file in /data with the sha256 of its content, read by a throwaway container. */
  async function dataFiles(): Promise<Record<string, string>> {
    const script =
      "const fs=require('fs'),c=require('crypto');const o={};for(const f of fs.readdirSync('/data').sort())" +
      "o[f]=c.createHash('sha256').update(fs.readFileSync('/data/'+f)).digest('hex');console.log(JSON.stringify(o))"
    return JSON.parse(
      await runOk(engine, [
        'run',
        '--rm',
        '--network',
        'none',
        '-v',
        `${volume}:/data`,
        IMAGE,
        'node',
        '-e',
        script,
      ]),
    )
  }

  async function stop(name: string): Promise<{ seconds: number; exitCode: number }> {
    const started = Date.now()
    await runOk(engine, ['stop', '-t', '30', name])
    const seconds = (Date.now() - started) / 1000
    const exitCode = Number(await runOk(engine, ['inspect', '--format', '{{.State.ExitCode}}', name]))
    return { seconds, exitCode }
  }

  /** The image's HEALTHCHECK test: Docker keeps it in the config, podman beside it. */
  async function healthcheck(): Promise<string[] | undefined> {
    type Check = { Test?: string[] } | undefined
    const [image] = JSON.parse(await runOk(engine, ['image', 'inspect', IMAGE])) as {
      Config?: { Healthcheck?: Check }
      Healthcheck?: Check
    }[]
    return (image?.Config?.Healthcheck ?? image?.Healthcheck)?.Test
  }

  it('has the Dockerfile’s user, volume, healthcheck and command', async () => {
    const config = JSON.parse(
      await runOk(engine, ['image', 'inspect', '--format', '{{json .Config}}', IMAGE]),
    )
    expect(config.User).toBe('node')
    expect(Object.keys(config.Volumes ?? {})).toEqual(['/data'])
    expect(config.Cmd).toEqual(['node', '--max-semi-space-size=8', 'bin/start.js'])
    expect((await healthcheck())?.[0]).toBe('CMD')
  })

  it('is healthy by its own HEALTHCHECK and forwards an event, signed, to a target on the host', async () => {
    await startRelay(relay(1))
    // The image's command itself, run where the engine runs it: inside the container.
    const check = await run(engine, ['exec', relay(1), ...((await healthcheck()) ?? []).slice(1)])
    expect(check, 'the HEALTHCHECK command').toMatchObject({ code: 0 })
    // podman runs it on demand and records the outcome (its timer needs systemd, absent here).
    // Docker's first scheduled check comes only after the 30 s interval: the exec above stands for it.
    if (engine === 'podman') {
      const health = await run(engine, ['healthcheck', 'run', relay(1)])
      expect(health, 'podman healthcheck run').toMatchObject({ code: 0 })
      expect(await runOk(engine, ['inspect', '--format', '{{.State.Health.Status}}', relay(1)])).toBe(
        'healthy',
      )
    }

    // The token made on the first start: announced in the log, and kept in /data.
    const announced = /\/webhook\/([A-Za-z0-9_-]+)/.exec(await logs(relay(1)))?.[1]
    token = await runOk(engine, ['exec', relay(1), 'cat', '/data/ingest-token'])
    expect(announced).toBe(token)

    expect((await postEvent(1)).status).toBe(200)
    await sink.waitFor(1, 15_000)
    expect(verifiedIds()).toEqual([1])
    expect(sink.requests[0]?.body.toString()).toBe(wgEvent({ id: 1 }))
  })

  it('runs as the unprivileged node user, with nothing but /data writable', async () => {
    expect(await runOk(engine, ['exec', relay(1), 'id', '-u'])).toBe('1000')
    const script =
      "const fs=require('fs');const o={};for(const d of ['/','/app','/tmp','/var/tmp','/run','/home/node','/data'])" +
      "{try{fs.writeFileSync(d+'/probe','x');fs.rmSync(d+'/probe');o[d]='written'}catch(e){o[d]=e.code}}" +
      'console.log(JSON.stringify(o))'
    const probed = JSON.parse(await runOk(engine, ['exec', relay(1), 'node', '-e', script]))
    expect(probed).toEqual({
      '/': 'EROFS',
      '/app': 'EROFS',
      '/tmp': 'EROFS',
      '/var/tmp': 'EROFS',
      '/run': 'EROFS',
      '/home/node': 'EROFS',
      '/data': 'written',
    })
    // SQLite's temporary files too (SQLITE_TMPDIR, the Dockerfile says why): an index build that
    // outgrows the cache spills to one, and fails with "disk I/O error" where none can be written.
    const sqlite =
      "const db=new (require('node:sqlite').DatabaseSync)(':memory:');db.exec('create table t(a text)');" +
      "const i=db.prepare('insert into t values (?)');db.exec('begin');" +
      "for(let n=0;n<200000;n++)i.run(String(n).padStart(64,'x'));db.exec('commit');" +
      "db.exec('create index a on t(a)');console.log('indexed')"
    expect(await runOk(engine, ['exec', relay(1), 'node', '-e', sqlite])).toBe('indexed')
  })

  it('keeps the outbox and every file in /data across a new container on the same volume', async () => {
    const first = await stop(relay(1))
    const before = await dataFiles()
    log(`/data after the first container: ${Object.keys(before).join(', ')}`)
    expect(Object.keys(before)).toContain('ingest-token')

    await startRelay(relay(2))
    // The same token answers, and the event taken by the first container is still in the outbox.
    expect((await postEvent(2)).status).toBe(200)
    const { events } = (await admin('/admin/events')) as { events: { key: string }[] }
    expect(events.map((event) => event.key)).toEqual(['191b80a9238:message:2', '191b80a9238:message:1'])
    await sink.waitFor(2, 15_000)
    expect(verifiedIds()).toEqual([1, 2])
    await stop(relay(2))

    // The same files, and every one but the outbox's unchanged (the outbox took event 2).
    const after = await dataFiles()
    expect(Object.keys(after)).toEqual(Object.keys(before))
    const kept = (files: Record<string, string>) =>
      Object.fromEntries(Object.entries(files).filter(([name]) => !name.startsWith('relay.sqlite')))
    expect(kept(after)).toEqual(kept(before))
    expect(first.exitCode).toBe(0)
  })

  it('stops on SIGTERM within the shutdown timeout, and delivers what it took after a restart', async () => {
    await startRelay(relay(3))
    // The target hangs: five sends are in flight when SIGTERM comes, and the relay waits
    // SHUTDOWN_TIMEOUT_MS for them, then gives them back to the outbox and exits.
    sink.respondWith(() => ({ stall: true }))
    const before = sink.requests.length
    for (const id of [3, 4, 5, 6, 7]) expect((await postEvent(id)).status).toBe(200)
    await sink.waitFor(before + 5, 15_000)
    const stopped = await stop(relay(3))
    log(
      `SIGTERM to exit with 5 sends in flight: ${stopped.seconds.toFixed(1)} s, exit code ${stopped.exitCode}`,
    )
    expect(stopped.exitCode).toBe(0)
    expect(stopped.seconds).toBeGreaterThanOrEqual(SHUTDOWN_TIMEOUT_MS / 1000 - 0.5)
    expect(stopped.seconds).toBeLessThan(SHUTDOWN_TIMEOUT_MS / 1000 + 5)
    expect(await logs(relay(3))).toContain('shutting down')

    // Then the target is down while a new container starts, and comes back where it was.
    const targetPort = Number(new URL(sink.url).port)
    await sink.close()
    await startRelay(relay(4))
    // It tries, and fails: five more attempts against the closed port, all five still pending.
    const tried = await pendingAttempts()
    const deadline = Date.now() + 15_000
    while ((await pendingAttempts()) < tried + 5) {
      if (Date.now() > deadline) throw new Error('the new container made no attempts against the down target')
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    sink = await startSink({ port: targetPort })
    await sink.waitFor(5, 30_000)
    expect(new Set(verifiedIds())).toEqual(new Set([3, 4, 5, 6, 7]))
    await stop(relay(4))
  })
})
