// Replica kill: how long the deliveries a killed replica held wait before another replica sends
// them. Two relays on one fresh PostgreSQL schema, a steady load of 10 events/s over both, a
// target that holds each request for a second (so each replica always has leases: sends in
// flight and claimed ones waiting for a slot). One replica is killed with SIGKILL; its leases are
// read from the database; the time is from the kill until the last of them arrives at the target
// again. BENCH_REPLICA_KILLS times each way: with the lease running out (REPLICA_DEAD_AFTER_SECONDS
// far above the lease, as before heartbeats) and with heartbeats at their default (15 s).
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import pg from 'pg'
import { messageEventBody } from './harness/event.ts'
import { freshSchema } from './harness/postgres-schema.ts'
import { envNumber, nowMs, sleep } from './harness/process.ts'
import { markdownTable } from './harness/report.ts'
import { type Relay, startRelay } from './harness/servers.ts'

const ADMIN_TOKEN = 'bench-admin-token-0123456789'
const HOLD_MS = 1000
const RATE = 10

/** The target: holds every request HOLD_MS, then 200; keeps when each event first arrived after `since`. */
async function holdingSink() {
  const arrivals = new Map<string, number[]>()
  const server = createServer((request, response) => {
    const key = String(request.headers['webhook-id'])
    request.resume()
    request.on('end', () => {
      arrivals.set(key, [...(arrivals.get(key) ?? []), nowMs()])
      setTimeout(() => response.end('{"ok":true}'), HOLD_MS)
    })
  })
  server.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    arrivedAfter: (key: string, since: number) => (arrivals.get(key) ?? []).find((at) => at > since),
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(resolve))
    },
  }
}

const originOf = (relay: Relay) => new URL(relay.url).origin

async function replicaIdOf(relay: Relay): Promise<string> {
  const response = await fetch(`${originOf(relay)}/admin/status`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  })
  const { replicas } = (await response.json()) as { replicas: { id: string; current: boolean }[] }
  const self = replicas.find((replica) => replica.current)
  if (!self) throw new Error('the relay does not list itself among the replicas')
  return self.id
}

/** One kill: the time (ms) from the kill until every delivery the victim held was sent again. */
async function oneKill(baseUrl: string, deadAfterSeconds: number): Promise<{ ms: number; held: number }> {
  const schema = await freshSchema(baseUrl, 'bench_replica_kill')
  const sink = await holdingSink()
  const relays: Relay[] = []
  const db = new pg.Client({ connectionString: schema.url() })
  await db.connect()
  let loading = true
  try {
    const env = {
      DATABASE_URL: schema.url(),
      ADMIN_TOKEN,
      REPLICA_DEAD_AFTER_SECONDS: String(deadAfterSeconds),
      REPLICA_FORGET_AFTER_SECONDS: String(Math.max(deadAfterSeconds, 600)),
    }
    const target = { url: sink.url, concurrency: 8 }
    relays.push(await startRelay({ target, env }), await startRelay({ target, env }))
    const [victim, survivor] = relays as [Relay, Relay]
    const victimId = await replicaIdOf(victim)
    let killed = false
    let id = 1
    void (async () => {
      while (loading) {
        const to = killed || id % 2 === 0 ? survivor : victim
        void fetch(to.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: messageEventBody(id++),
        }).then(
          (response) => response.arrayBuffer(),
          () => undefined,
        )
        await sleep(1000 / RATE)
      }
    })()
    await sleep(3000 + Math.random() * 2000)
    process.kill(victim.child.pid, 'SIGKILL')
    const killedAt = nowMs()
    killed = true
    while (!victim.child.hasExited()) await sleep(5)
    const { rows } = await db.query<{ key: string }>(
      `SELECT e.key FROM deliveries d JOIN events e ON e.seq = d.event_seq
       WHERE d.lease_owner = $1 AND d.status = 'pending'`,
      [victimId],
    )
    const keys = rows.map((row) => row.key)
    const deadline = killedAt + 180_000
    for (;;) {
      const resumed = keys.map((key) => sink.arrivedAfter(key, killedAt))
      if (resumed.every((at) => at !== undefined)) {
        return { ms: Math.max(0, ...resumed.map((at) => (at as number) - killedAt)), held: keys.length }
      }
      if (nowMs() > deadline) throw new Error('the killed replica’s deliveries were not sent within 180 s')
      await sleep(50)
    }
  } finally {
    loading = false
    await db.end()
    for (const relay of relays) await relay.child.stop(5000)
    await sink.close()
    await schema.drop()
  }
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
}

/** Runs the benchmark; gives its markdown. */
export async function replicaKill(): Promise<string> {
  const baseUrl = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test'
  const kills = envNumber('BENCH_REPLICA_KILLS', 3)
  const rows: string[][] = []
  const ways = [
    { name: 'lease expiry (REPLICA_DEAD_AFTER_SECONDS=3600)', deadAfter: 3600 },
    { name: 'heartbeats (REPLICA_DEAD_AFTER_SECONDS=15, the default)', deadAfter: 15 },
  ]
  for (const way of ways) {
    const times: number[] = []
    const held: number[] = []
    for (let i = 0; i < kills; i++) {
      process.stderr.write(`replica-kill: ${way.name}, kill ${i + 1} of ${kills}\n`)
      const kill = await oneKill(baseUrl, way.deadAfter)
      times.push(kill.ms)
      held.push(kill.held)
    }
    const seconds = (ms: number) => (ms / 1000).toFixed(1)
    rows.push([
      way.name,
      String(kills),
      held.join(', '),
      seconds(percentile(times, 50)),
      seconds(Math.max(...times)),
    ])
  }
  return [
    '### A replica killed: until its deliveries are sent again',
    '',
    markdownTable(
      ['how its leases come back', 'kills', 'deliveries it held (per kill)', 'p50 s', 'max s'],
      rows,
    ),
    '',
    `Two replicas on PostgreSQL, ${RATE} events/s over both, a target that holds each request ${HOLD_MS / 1000} s (timeout 10 s: a lease runs 50 s); the time from the kill until the last delivery the killed replica held arrived at the target again.`,
  ].join('\n')
}
