// Admin: how fast the operator's API answers over a big outbox. Seeds BENCH_ADMIN_EVENTS events
// (1,000,000 by default) with their deliveries and attempts into a SQLite outbox (with
// BENCH_DATABASE_URL, into a fresh PostgreSQL schema instead), starts the relay on it, and times
// each filter of GET /admin/events and /admin/deliveries, and one event by key, with sequential
// requests after a warm-up; the event console's lists too (newest first, pages both ways, outcome
// and target filters, each row with its outcomes and preview), the dead-letter triage's groups,
// lists and counts, the overview's charts (GET /admin/stats) and GET /admin/targets. The target:
// p95 under 50 ms.
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { Pool } from 'undici'
import { latencyHistogram, sampleForeignCpu, waitForIdle } from './harness/measure.ts'
import {
  SEED_TARGETS,
  type SeedResult,
  seedChat,
  seededEvent,
  seedPhone,
  seedSession,
  seedSqliteOutbox,
} from './harness/outbox-seed.ts'
import { seedPostgresOutbox } from './harness/postgres-seed.ts'
import { envNumber, makeTempDir, nowMs } from './harness/process.ts'
import { fmt, foreignLoadWarning, markdownTable, relayLogNote } from './harness/report.ts'
import { startRelay } from './harness/servers.ts'

const ADMIN_TOKEN = 'bench-admin-token-0123456789'
const TARGET_P95_MS = 50
const DAY_MS = 24 * 60 * 60 * 1000
const HOUR_MS = 60 * 60 * 1000

interface Case {
  name: string
  /** Built once the cases before it have run: a second page needs the first one's cursor. */
  path: () => string
  /** Sent as a POST with this JSON body (a replay's dry run); a GET without. */
  body?: object
}

interface Outcome {
  name: string
  path: string
  rows: number
  latency?: ReturnType<typeof latencyHistogram>
  /** Why the case was not measured (the relay refused the request). */
  refused?: string
}

const iso = (ms: number) => new Date(ms).toISOString()

/** Runs the benchmark; gives its markdown. */
export async function admin(): Promise<string> {
  const count = envNumber('BENCH_ADMIN_EVENTS', 1_000_000)
  const requests = envNumber('BENCH_ADMIN_REQUESTS', 200)
  const warmup = envNumber('BENCH_ADMIN_WARMUP', 20)
  const databaseUrl = process.env.BENCH_DATABASE_URL || null
  const endAt = Date.now() - 60_000
  const storeName = databaseUrl ? 'PostgreSQL' : 'SQLite'
  process.stderr.write(`admin: seeding ${fmt.int(count)} events into ${storeName}\n`)

  const dataDir = makeTempDir('admin-data')
  let seeded: SeedResult
  let size: string
  let dropSchema: (() => Promise<void>) | null = null
  const env: NodeJS.ProcessEnv = { ADMIN_TOKEN }
  if (databaseUrl) {
    const schema = await seedPostgresOutbox(databaseUrl, count, endAt)
    seeded = schema
    dropSchema = schema.drop
    env.DATABASE_URL = schema.url
    size = 'in PostgreSQL'
  } else {
    const path = join(dataDir, 'relay.sqlite')
    seeded = await seedSqliteOutbox(path, count, endAt)
    size = `${fmt.int(statSync(path).size / 2 ** 20)} MiB file`
  }
  process.stderr.write(`admin: seeded in ${seeded.seconds.toFixed(1)} s; starting the relay\n`)

  const relay = await startRelay({ dataDir, env })
  const origin = new URL(relay.url).origin
  const pool = new Pool(origin, { connections: 1, pipelining: 1, keepAliveTimeout: 30_000 })
  const get = async (path: string, json?: object) => {
    const { statusCode, body } = await pool.request({
      path,
      method: json ? 'POST' : 'GET',
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(json ? { 'content-type': 'application/json' } : {}),
      },
      ...(json ? { body: JSON.stringify(json) } : {}),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    })
    return { status: statusCode, text: await body.text() }
  }

  // What the filters look for: a session and chats of the seeded spread, a one-hour window in the
  // middle of the six days, the last day, and an event half way.
  const session = seedSession(7)
  const group = seedChat(19)
  const phone = `+${seedPhone(42)}`
  const key = seededEvent(Math.ceil(count / 2), count, endAt, 6 * DAY_MS).key
  const hour = { from: iso(endAt - 3 * DAY_MS), to: iso(endAt - 3 * DAY_MS + HOUR_MS) }
  const q = (params: Record<string, string>) => new URLSearchParams(params).toString()
  let secondPage = ''
  let newerPage = ''
  let olderDead = ''
  const cases: Case[] = [
    { name: 'events, no filter', path: () => '/admin/events' },
    { name: 'events, one session', path: () => `/admin/events?${q({ session })}` },
    { name: 'events, action=ready (0.1%)', path: () => `/admin/events?${q({ action: 'ready' })}` },
    { name: 'events, chat (group jid)', path: () => `/admin/events?${q({ chat: group })}` },
    { name: 'events, chat (phone number)', path: () => `/admin/events?${q({ chat: phone })}` },
    { name: 'events, received in one hour', path: () => `/admin/events?${q(hour)}` },
    {
      name: 'events, received in the last day',
      path: () => `/admin/events?${q({ from: iso(endAt - DAY_MS) })}`,
    },
    { name: 'events, non-conforming', path: () => `/admin/events?${q({ conforming: 'false' })}` },
    { name: 'events, key', path: () => `/admin/events?${q({ key })}` },
    { name: 'events, one session, second page', path: () => secondPage },
    { name: 'events, a newer page (after)', path: () => newerPage },
    { name: 'events, party (phone number)', path: () => `/admin/events?${q({ party: phone })}` },
    { name: 'events, outcome=dead', path: () => `/admin/events?${q({ outcome: 'dead' })}` },
    {
      name: 'events, outcome=dead of one target (0.2%)',
      path: () => `/admin/events?${q({ outcome: 'dead', target: SEED_TARGETS.all })}`,
    },
    {
      name: 'events, outcome=dead of one target, older page',
      path: () => olderDead,
    },
    { name: 'events, outcome=pending', path: () => `/admin/events?${q({ outcome: 'pending' })}` },
    {
      name: 'events, outcome=delivered of one target',
      path: () => `/admin/events?${q({ outcome: 'delivered', target: SEED_TARGETS.messages })}`,
    },
    {
      name: 'events, one target (session events only)',
      path: () => `/admin/events?${q({ target: SEED_TARGETS.sessionEvents })}`,
    },
    {
      name: 'events, one session, outcome=dead',
      path: () => `/admin/events?${q({ session, outcome: 'dead' })}`,
    },
    {
      name: 'deliveries, dead of one target',
      path: () => `/admin/deliveries?${q({ status: 'dead', target: SEED_TARGETS.all })}`,
    },
    { name: 'deliveries, pending', path: () => `/admin/deliveries?${q({ status: 'pending' })}` },
    { name: 'deliveries, one session', path: () => `/admin/deliveries?${q({ session })}` },
    { name: 'deliveries, received in one hour', path: () => `/admin/deliveries?${q(hour)}` },
    { name: 'one event by key', path: () => `/admin/events/${encodeURIComponent(key)}` },
    // Dead-letter triage (routes/dead-letters.ts): the groups by cause and the newest-first list,
    // each filter, and the count a bulk replay's dry run makes.
    ...deadLetterCases({ session, group, hour, q }),
    { name: 'chart: stats, last hour per minute', path: () => '/admin/stats?range=hour' },
    { name: 'chart: stats, last day per hour', path: () => '/admin/stats?range=day' },
    { name: 'targets, state, traffic and configuration', path: () => '/admin/targets' },
  ].filter((c) => c.name.includes(process.env.BENCH_ADMIN_CASES ?? ''))

  const outcomes: Outcome[] = []
  let foreignCores = 0
  try {
    await waitForIdle('the admin requests')
    const foreign = sampleForeignCpu()
    for (const { name, path: build, body } of cases) {
      // Cursors come from a first page: `older` pages on (as `before`), its own seq back (`after`).
      const pageOf = async (params: Record<string, string>) =>
        JSON.parse((await get(`/admin/events?${q(params)}`)).text) as {
          older?: number
          events?: { seq: number }[]
        }
      if (name.endsWith('second page')) {
        const first = await pageOf({ session })
        secondPage = `/admin/events?${q({ session, before: String(first.older ?? 0) })}`
      }
      if (name.endsWith('newer page (after)')) {
        const first = await pageOf({ session })
        newerPage = `/admin/events?${q({ session, after: String(first.events?.at(-1)?.seq ?? 0) })}`
      }
      if (name.endsWith('one target, older page')) {
        const first = await pageOf({ outcome: 'dead', target: SEED_TARGETS.all })
        olderDead = `/admin/events?${q({ outcome: 'dead', target: SEED_TARGETS.all, before: String(first.older ?? 0) })}`
      }
      const path = build()
      const probe = await get(path, body)
      if (probe.status !== 200) {
        outcomes.push({
          name,
          path,
          rows: 0,
          refused: `HTTP ${probe.status} ${probe.text.slice(0, 120)}`,
        })
        continue
      }
      for (let i = 0; i < warmup; i++) await get(path, body)
      const latency = latencyHistogram()
      let rows = 0
      for (let i = 0; i < requests; i++) {
        const started = nowMs()
        const { status, text } = await get(path, body)
        latency.record(nowMs() - started)
        if (status !== 200) throw new Error(`${path} answered ${status} after answering 200: ${text}`)
        if (i === 0) rows = rowsOf(JSON.parse(text))
      }
      outcomes.push({
        name,
        path: body ? `POST ${path} ${JSON.stringify(body)}` : path,
        rows,
        latency,
      })
      process.stderr.write(`  ${name}: p95 ${fmt.ms(latency.percentile(95))} ms\n`)
    }
    foreignCores = foreign.stop()
  } finally {
    await pool.close()
    await relay.child.stop(5000)
    if (dropSchema && process.env.BENCH_KEEP !== '1') await dropSchema()
  }

  const measured = outcomes.filter((o) => o.latency)
  const met = measured.filter((o) => (o.latency?.percentile(95) ?? Number.POSITIVE_INFINITY) < TARGET_P95_MS)
  return [
    ...foreignLoadWarning([foreignCores]),
    `### Admin API over ${fmt.int(seeded.events)} events (${storeName}), ${requests} sequential requests per row after ${warmup} to warm up`,
    '',
    `Seeded ${fmt.int(seeded.events)} events (20 sessions, 200 chats, 1% non-conforming), ${fmt.int(seeded.deliveries)} deliveries ` +
      `(${fmt.int(seeded.dead)} dead, ${fmt.int(seeded.pending)} pending) and ${fmt.int(seeded.attempts)} attempts in ` +
      `${seeded.seconds.toFixed(1)} s (indexes ${seeded.indexSeconds.toFixed(1)} s), ${size}. Pages of 100.`,
    '',
    markdownTable(
      ['request', 'rows', 'p50 ms', 'p95 ms', 'p99 ms', `p95 < ${TARGET_P95_MS} ms`],
      outcomes.map(({ name, path, rows, latency, refused }) =>
        latency
          ? [
              `${name}: \`${shorten(path)}\``,
              String(rows),
              fmt.ms(latency.percentile(50)),
              fmt.ms(latency.percentile(95)),
              fmt.ms(latency.percentile(99)),
              latency.percentile(95) < TARGET_P95_MS ? 'yes' : '**no**',
            ]
          : [`${name}: \`${shorten(path)}\``, '–', '–', '–', '–', `not run: ${refused}`],
      ),
    ),
    '',
    `Target p95 < ${TARGET_P95_MS} ms: met by ${met.length} of ${measured.length} measured requests` +
      (outcomes.length > measured.length
        ? ` (${outcomes.length - measured.length} refused by the relay)`
        : ''),
    ...relayLogNote([relay.child]),
  ].join('\n')
}

/** How many rows an answer holds: a list's (a chart's buckets, the targets), or 1 for one event (which holds its deliveries). */
function rowsOf(answer: {
  key?: string
  events?: unknown[]
  deliveries?: unknown[]
  deadLetters?: unknown[]
  groups?: unknown[]
  matched?: number
  buckets?: unknown[]
  targets?: unknown[]
}): number {
  if (answer.key !== undefined) return 1
  if (answer.matched !== undefined) return answer.matched
  return (
    answer.events?.length ??
    answer.deliveries?.length ??
    answer.deadLetters?.length ??
    answer.groups?.length ??
    answer.buckets?.length ??
    answer.targets?.length ??
    0
  )
}

/** The dead-letter queries of the triage page (and the CLI's replay --dead), over the seeded dead. */
function deadLetterCases({
  session,
  group,
  hour,
  q,
}: {
  session: string
  group: string
  hour: { from: string; to: string }
  q: (params: Record<string, string>) => string
}): Case[] {
  const target = SEED_TARGETS.messages
  return [
    { name: 'dead letters, groups by cause', path: () => '/admin/dead-letters/groups' },
    {
      name: 'dead letters, groups of one session',
      path: () => `/admin/dead-letters/groups?${q({ session })}`,
    },
    {
      name: 'dead letters, groups in one hour',
      path: () => `/admin/dead-letters/groups?${q(hour)}`,
    },
    {
      name: 'dead letters, groups of a chat',
      path: () => `/admin/dead-letters/groups?${q({ chat: group })}`,
    },
    { name: 'dead letters, newest first', path: () => '/admin/dead-letters' },
    { name: 'dead letters, one target', path: () => `/admin/dead-letters?${q({ target })}` },
    {
      name: 'dead letters, one cause',
      path: () => `/admin/dead-letters?${q({ target, status: '500', errorClass: 'http' })}`,
    },
    { name: 'dead letters, one session', path: () => `/admin/dead-letters?${q({ session })}` },
    { name: 'dead letters, received in one hour', path: () => `/admin/dead-letters?${q(hour)}` },
    { name: 'dead letters, a chat', path: () => `/admin/dead-letters?${q({ chat: group })}` },
    {
      name: 'dead letters, count of one hour (dry run)',
      path: () => '/admin/replay',
      body: { dead: { ...hour }, dryRun: true },
    },
    {
      name: 'dead letters, count of one session and cause (dry run)',
      path: () => '/admin/replay',
      body: { dead: { session, status: null, errorClass: 'connection' }, dryRun: true },
    },
  ]
}

/** A path as a table cell: values of keys and times cut short. */
function shorten(path: string): string {
  return decodeURIComponent(path).replace(/(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})[^&]*/g, '$1…')
}
