// Hostile: the attacks of the relay's security review, run again against the relay as `npm start`
// runs it (127.0.0.1 only, each flood a few seconds). Every row is an attack, what the review found,
// what happens now, and whether the protection holds; the run fails if one does not. Clients come
// from several loopback addresses (127.0.0.x), so that one attacker's lockout is not another's.

import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Dispatcher, Pool } from 'undici'
import { messageEventBody } from './harness/event.ts'
import { envNumber, makeTempDir, nowMs, sleep } from './harness/process.ts'
import { rawExchange, statusOf } from './harness/raw-http.ts'
import { fmt, markdownTable } from './harness/report.ts'
import { type Relay, startRelay } from './harness/servers.ts'

const ADMIN_TOKEN = 'bench-admin-token-0123456789'
const WRONG_ADMIN = 'wrong-admin-token-0123456789'
const WRONG_INGEST = 'wrong-ingest-token-0123456789'
const MESSAGE_TEXT = 'hostile bench message text'

interface Row {
  attack: string
  before: string
  now: string
  held: boolean
}

type Request = Omit<Dispatcher.RequestOptions, 'origin'>

/** One client address's connection pool to the relay. */
function clientFrom(origin: string, localAddress: string, connections = 1) {
  const pool = new Pool(origin, { connections, localAddress })
  async function send(request: Request) {
    const { statusCode, headers, body } = await pool.request(request)
    const text = await body.text()
    return { status: statusCode, headers, text, json: () => JSON.parse(text) }
  }
  return { pool, send }
}

const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` }
const json = { 'content-type': 'application/json' }

/** `POST /admin/session` with `token`, as the dashboard's sign-in form sends it. */
const signInWith = (token: string, headers: Record<string, string> = {}): Request => ({
  method: 'POST',
  path: '/admin/session',
  headers: { ...json, ...headers },
  body: JSON.stringify({ token }),
})

/** `connections` requests in a closed loop for `seconds`; how many got each status, and per second. */
async function flood(origin: string, localAddress: string, seconds: number, request: Request) {
  const connections = 10
  const { pool, send } = clientFrom(origin, localAddress, connections)
  const counts = new Map<number, number>()
  const end = nowMs() + seconds * 1000
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (nowMs() < end) {
        const { status } = await send(request)
        counts.set(status, (counts.get(status) ?? 0) + 1)
      }
    }),
  )
  await pool.close()
  const total = [...counts.values()].reduce((a, b) => a + b, 0)
  return { counts, total, perSecond: total / seconds }
}

const countsText = (counts: Map<number, number>) =>
  [...counts]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${fmt.int(n)}×${status}`)
    .join(', ')

/** The relay's log lines and bytes written while `work` runs. */
async function logDuring<T>(relay: Relay, work: () => Promise<T>) {
  const lines = relay.child.log.lines
  const bytes = relay.child.log.bytes
  const result = await work()
  // pino writes asynchronously: give the last lines a moment to arrive.
  await sleep(200)
  return { result, lines: relay.child.log.lines - lines, bytes: relay.child.log.bytes - bytes }
}

function storeBytes(dataDir: string): number {
  return ['relay.sqlite', 'relay.sqlite-wal', 'relay.sqlite-shm']
    .map((name) => {
      try {
        return statSync(join(dataDir, name)).size
      } catch {
        return 0
      }
    })
    .reduce((a, b) => a + b, 0)
}

export async function hostile(): Promise<string> {
  const seconds = envNumber('BENCH_HOSTILE_SECONDS', 3)
  const rows: Row[] = []
  const relay = await startRelay({
    env: { ADMIN_TOKEN, REQUEST_TIMEOUT_MS: '2000', HEADERS_TIMEOUT_MS: '1000' },
    keepLog: true,
  })
  const url = new URL(relay.url)
  const origin = url.origin
  const port = Number(url.port)
  const ingestToken = url.pathname.split('/').pop() as string
  const operator = clientFrom(origin, '127.0.0.6')
  try {
    rows.push(...(await signInAttacks(relay, origin, seconds)))
    rows.push(await copiedCookie(origin))
    rows.push(...(await strangersAtTheWebhook(relay, origin, ingestToken, operator.send, seconds)))
    rows.push(await malformedAdminBodies(operator.send))
    rows.push(...(await smallerFindings(port, ingestToken, operator.send)))
    rows.push(...(await whatHeld(relay, operator.send, ingestToken)))
  } finally {
    await operator.pool.close()
    await relay.child.stop()
  }
  rows.push(await behindProxy())
  rows.push(await fullDisk())

  const failed = rows.filter((row) => !row.held)
  const table = markdownTable(
    ['attack', 'found by the review', 'now', 'held'],
    rows.map((row) => [row.attack, row.before, row.now, row.held ? 'yes' : '**NO**']),
  )
  if (failed.length > 0)
    throw new Error(`hostile: not held: ${failed.map((r) => r.attack).join('; ')}\n${table}`)
  return `### Hostile requests (${seconds} s per flood, 10 connections)\n\n${table}`
}

async function signInAttacks(relay: Relay, origin: string, seconds: number): Promise<Row[]> {
  const signIn = await logDuring(relay, () => flood(origin, '127.0.0.2', seconds, signInWith(WRONG_ADMIN)))
  const wrongBearer = await logDuring(relay, () =>
    flood(origin, '127.0.0.3', seconds, {
      method: 'GET',
      path: '/admin/status',
      headers: { authorization: `Bearer ${WRONG_ADMIN}` },
    }),
  )
  const { pool, send } = clientFrom(origin, '127.0.0.4')
  const rightElsewhere = await send(signInWith(ADMIN_TOKEN))
  await pool.close()
  const guessed = (counts: Map<number, number>) => counts.get(401) ?? 0
  const describe = (run: typeof signIn) =>
    `${fmt.int(guessed(run.result.counts))} guesses checked in ${seconds} s (${countsText(run.result.counts)}); ` +
    `${run.lines} log lines`
  return [
    {
      attack: 'wrong tokens to `POST /admin/session`, one address',
      before: 'about 5,000 guesses/s, no limit',
      now: describe(signIn),
      held: guessed(signIn.result.counts) <= 10 && signIn.lines <= 2,
    },
    {
      attack: 'wrong `Authorization: Bearer`, one address',
      before: 'about 10,000 guesses/s, not one log line',
      now: describe(wrongBearer),
      held: guessed(wrongBearer.result.counts) <= 10 && wrongBearer.lines >= 1 && wrongBearer.lines <= 2,
    },
    {
      attack: 'the right token from another address meanwhile',
      before: 'worked',
      now: `HTTP ${rightElsewhere.status}`,
      held: rightElsewhere.status === 200,
    },
  ]
}

async function copiedCookie(origin: string): Promise<Row> {
  const { pool, send } = clientFrom(origin, '127.0.0.5')
  const signIn = await send(signInWith(ADMIN_TOKEN))
  const cookie = String(signIn.headers['set-cookie']).split(';')[0] as string
  await send({ method: 'DELETE', path: '/admin/session', headers: { cookie } })
  const copy = await send({ method: 'GET', path: '/admin/status', headers: { cookie } })
  await pool.close()
  return {
    attack: 'a copied session cookie after sign-out',
    before: 'still worked for up to 12 h',
    now: `HTTP ${copy.status}`,
    held: copy.status === 401,
  }
}

async function strangersAtTheWebhook(
  relay: Relay,
  origin: string,
  ingestToken: string,
  admin: ReturnType<typeof clientFrom>['send'],
  seconds: number,
): Promise<Row[]> {
  // What WhatsGate sent that the relay could not take: the operator needs it kept.
  const { pool, send } = clientFrom(origin, '127.0.0.9')
  await send({ method: 'POST', path: `/webhook/${ingestToken}`, body: 'not json at all' })
  await pool.close()
  const kept = async () =>
    JSON.stringify((await admin({ method: 'GET', path: '/admin/refused', headers: bearer })).json())
  const keptBefore = await kept()
  const sizeBefore = storeBytes(relay.dataDir)
  const unknown = await logDuring(relay, () =>
    flood(origin, '127.0.0.7', seconds, { method: 'POST', path: '/webhook/x/y', headers: json, body: '{}' }),
  )
  const sizeAfter = storeBytes(relay.dataDir)
  const keptAfter = await kept()
  const wrongToken = await logDuring(relay, () =>
    flood(origin, '127.0.0.8', seconds, {
      method: 'POST',
      path: `/webhook/${WRONG_INGEST}`,
      headers: json,
      body: messageEventBody(1),
    }),
  )
  return [
    {
      attack: 'requests to unknown paths under `/webhook/`, no token',
      before: '8,000/s written to the store; WhatsGate’s refused bodies pushed out',
      now:
        `${fmt.int(unknown.result.perSecond)}/s answered ${countsText(unknown.result.counts)}; kept refusals ` +
        `${keptAfter === keptBefore ? 'unchanged' : 'CHANGED'}; store ${fmt.int(sizeAfter - sizeBefore)} bytes larger; ` +
        `${unknown.lines} log lines`,
      held: keptAfter === keptBefore && sizeAfter === sizeBefore && unknown.lines <= 2,
    },
    {
      attack: 'wrong ingest tokens',
      before: 'a warn line each: 1.8 MB of log/s',
      now: `${fmt.int(wrongToken.result.perSecond)}/s answered 401; ${fmt.int(wrongToken.bytes)} bytes of log in ${seconds} s`,
      held: wrongToken.lines <= 2 && (wrongToken.result.counts.get(401) ?? 0) === wrongToken.result.total,
    },
  ]
}

async function malformedAdminBodies(admin: ReturnType<typeof clientFrom>['send']): Promise<Row> {
  const paths = ['/admin/replay', '/admin/session', '/admin/targets/bot/pause']
  const statuses: number[] = []
  for (const path of paths) {
    for (const body of ['{bad', '[1,2', '{"ids":', '"', '{"token":1}']) {
      statuses.push((await admin({ method: 'POST', path, headers: { ...bearer, ...json }, body })).status)
    }
  }
  const counts = new Map<number, number>()
  for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1)
  return {
    attack: 'malformed JSON to `/admin/replay`, `/admin/session`, a pause',
    before: '500 (`FST_ERR_RESPONSE_SERIALIZATION`), no log line',
    now: countsText(counts),
    held: statuses.every((status) => status >= 400 && status < 500),
  }
}

async function smallerFindings(
  port: number,
  ingestToken: string,
  admin: ReturnType<typeof clientFrom>['send'],
): Promise<Row[]> {
  // Newest first: the request just made is the first row.
  const refusedRows = async () =>
    (await admin({ method: 'GET', path: '/admin/refused?limit=1000', headers: bearer })).json().refused as {
      status: number
      headers: Record<string, string>
    }[]

  // Headers named like Object members, on a refused request that is kept.
  await rawExchange(
    port,
    `POST /webhook/${ingestToken} HTTP/1.1\r\nHost: relay\r\nconstructor: sent-as-constructor\r\n` +
      '__proto__: sent-as-proto\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbad',
  )
  const named = (await refusedRows())[0]?.headers ?? {}
  const own = (name: string) =>
    Object.hasOwn(named, name) ? Object.getOwnPropertyDescriptor(named, name)?.value : null
  const headersKept = own('constructor') === 'sent-as-constructor' && own('__proto__') === 'sent-as-proto'

  // A body that stops coming: the request timeout (2 s here) cuts it with 408. The refusal is kept
  // once the route has seen the cut, which may be just after the client has.
  const keptBefore = (await refusedRows()).length
  const cut = await rawExchange(
    port,
    `POST /webhook/${ingestToken} HTTP/1.1\r\nHost: relay\r\nContent-Length: 100\r\n\r\n{"id":`,
  )
  let kept = await refusedRows()
  for (let waited = 0; kept.length === keptBefore && waited < 2000; waited += 100) {
    await sleep(100)
    kept = await refusedRows()
  }
  const keptStatus = kept.length > keptBefore ? kept[0]?.status : 'not kept'

  // Headers that stop coming: the headers timeout (1 s here) cuts the connection.
  await rawExchange(port, 'POST /webhook/x HTTP/1.1\r\nHost: relay\r\n')
  const metrics = (await admin({ method: 'GET', path: '/metrics', headers: bearer })).text
  const headerCuts = Number(
    /whatsgate_relay_connections_cut_total\{reason="headers_timeout"\} (\d+)/.exec(metrics)?.[1] ?? 0,
  )

  const ids = Array.from({ length: 100_000 }, (_, i) => i + 1)
  const replay = await admin({
    method: 'POST',
    path: '/admin/replay',
    headers: { ...bearer, ...json },
    body: JSON.stringify({ ids }),
  })
  const replayIssue = replay.json().issues?.[0]

  // One key, two bodies: "id":"1" then "id":1.
  const post = (body: string) =>
    rawExchange(
      port,
      `POST /webhook/${ingestToken} HTTP/1.1\r\nHost: relay\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  const first = statusOf(await post(messageEventBody(4242).replace('"id":4242', '"id":"4242"')))
  const second = statusOf(await post(messageEventBody(4242)))
  const conflicts = (await admin({ method: 'GET', path: '/admin/conflicts', headers: bearer })).json()
    .conflicts as {
    eventKey: string
  }[]

  return [
    {
      attack: 'request headers named `constructor` and `__proto__`',
      before: '`function Object() …` stored; `__proto__` gone',
      now: headersKept ? 'kept as sent' : `kept as ${JSON.stringify(named)}`,
      held: headersKept,
    },
    {
      attack: 'a body cut by the request timeout',
      before: 'answered 408, kept as 400',
      now: `answered ${statusOf(cut)}, kept as ${keptStatus}`,
      held: statusOf(cut) === 408 && keptStatus === 408,
    },
    {
      attack: 'clients cut at the headers timeout',
      before: 'counted nowhere',
      now: `counted: \`whatsgate_relay_connections_cut_total{reason="headers_timeout"}\` ${headerCuts}`,
      held: headerCuts >= 1,
    },
    {
      attack: '100,000 replay ids',
      before: '400 `(root) Invalid input`',
      now: `${replay.status} \`${replayIssue?.path}: ${replayIssue?.message}\``,
      held: replay.status === 400 && replayIssue?.path === 'ids' && /10000/.test(replayIssue?.message ?? ''),
    },
    {
      attack: 'one key, two bodies (`"id":"1"` then `"id":1`)',
      before: 'both OK, the second dropped without a trace',
      now: `both ${first}/${second}; ${conflicts.length} conflicting copy listed`,
      held: first === 200 && second === 200 && conflicts.some((c) => c.eventKey.endsWith(':4242')),
    },
  ]
}

async function whatHeld(
  relay: Relay,
  admin: ReturnType<typeof clientFrom>['send'],
  ingestToken: string,
): Promise<Row[]> {
  const unauthorized = await Promise.all(
    ['/admin/events', '/admin/status', '/admin/sessions', '/metrics'].map(
      async (path) => (await admin({ method: 'GET', path })).status,
    ),
  )
  const page = await admin({ method: 'GET', path: '/admin/' })
  const csp = String(page.headers['content-security-policy'] ?? '')
  const modes = readdirSync(relay.dataDir).map((name) => statSync(join(relay.dataDir, name)).mode & 0o777)
  const log = relay.child.log.all?.join('\n') ?? ''
  const secrets = [
    ADMIN_TOKEN,
    WRONG_ADMIN,
    ingestToken,
    WRONG_INGEST,
    MESSAGE_TEXT,
    'benchmark message number',
  ]
  const leaked = secrets.filter((secret) => log.includes(secret))
  return [
    {
      attack: 'admin routes without credentials',
      before: '401',
      now: unauthorized.join(', '),
      held: unauthorized.every((status) => status === 401),
    },
    {
      attack: 'the dashboard page’s CSP',
      before: 'strict',
      now: csp.includes("default-src 'none'") && csp.includes("script-src 'self'") ? 'strict' : csp,
      held: csp.includes("default-src 'none'") && csp.includes("script-src 'self'"),
    },
    {
      attack: 'files in `DATA_DIR`',
      before: '0600',
      now: [...new Set(modes.map((mode) => mode.toString(8).padStart(4, '0')))].join(', '),
      held: modes.every((mode) => (mode & 0o077) === 0),
    },
    {
      attack: 'tokens and message text in the log',
      before: 'none',
      now:
        leaked.length === 0 ? `none in ${fmt.int(relay.child.log.lines)} lines` : `found: ${leaked.length}`,
      held: leaked.length === 0,
    },
  ]
}

async function behindProxy(): Promise<Row> {
  const relay = await startRelay({ env: { ADMIN_TOKEN, TRUST_PROXY: '127.0.0.1' } })
  try {
    const { pool, send } = clientFrom(new URL(relay.url).origin, '127.0.0.1')
    const signIn = await send(
      signInWith(ADMIN_TOKEN, { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' }),
    )
    await pool.close()
    const attributes = String(signIn.headers['set-cookie']).split('; ')
    return {
      attack: 'sign-in through a TLS proxy (`TRUST_PROXY=127.0.0.1`, `X-Forwarded-Proto: https`)',
      before: 'cookie never `Secure`; no proxy setting',
      now: attributes.includes('Secure') ? 'cookie `Secure`' : 'cookie not Secure',
      held: attributes.includes('Secure'),
    }
  } finally {
    await relay.child.stop()
  }
}

/** The relay's DATA_DIR on a small tmpfs, filled to the last byte, then emptied again. */
async function fullDisk(): Promise<Row> {
  const attack = '`/readyz` while the data disk is full'
  const before = 'ready, while every webhook got 503'
  const mountPoint = makeTempDir('full-disk')
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', mountPoint], {
    encoding: 'utf8',
  })
  if (mount.status !== 0) {
    return { attack, before, now: `not run: cannot mount a tmpfs here (${mount.stderr.trim()})`, held: true }
  }
  const dataDir = join(mountPoint, 'data')
  mkdirSync(dataDir, { mode: 0o700 })
  const relay = await startRelay({ dataDir, env: { ADMIN_TOKEN } })
  const origin = new URL(relay.url).origin
  const post = async (id: number) =>
    (await fetch(relay.url, { method: 'POST', body: messageEventBody(id) })).status
  const ready = async () => {
    const response = await fetch(`${origin}/readyz`)
    return { status: response.status, body: (await response.json()) as { reason?: string } }
  }
  try {
    const filler = join(mountPoint, 'filler')
    const chunk = Buffer.alloc(64 * 1024)
    for (let size = 64 * 1024; size > 0; size >>= 1) {
      try {
        while (true) writeFileSync(filler, chunk.subarray(0, size), { flag: 'a' })
      } catch {
        // ENOSPC at this size: go on with smaller writes until not even a byte fits.
      }
    }
    const webhookFull = await post(90_001)
    const readyFull = await ready()
    rmSync(filler)
    // A failed ingest write answers for a second: wait it out, then the probe decides.
    await sleep(1500)
    const readyAfter = await ready()
    const webhookAfter = await post(90_002)
    return {
      attack,
      before,
      now:
        `full: webhook ${webhookFull}, \`/readyz\` ${readyFull.status} (${readyFull.body.reason ?? 'no reason'}); ` +
        `freed: \`/readyz\` ${readyAfter.status}, webhook ${webhookAfter}`,
      held:
        webhookFull === 503 && readyFull.status === 503 && readyAfter.status === 200 && webhookAfter === 200,
    }
  } finally {
    await relay.child.stop()
    spawnSync('umount', [mountPoint])
  }
}
