// Two relay processes on one PostgreSQL database under a steady load, delivering to a target that
// holds each request for a second (so each replica always has leases). One is killed with
// SIGKILL: the other finds its heartbeat silent, takes its leases back and sends its deliveries
// within 20 s, where their leases would run out only after 50 s. Nothing acknowledged is lost;
// an event is sent twice only when the killed replica's send of it was cut by the kill. The
// status shows the killed replica dead, then no longer; a clean stop removes its own heartbeat.
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { wgEvent } from '../support/events.ts'
import { freshDatabase, postgresSkipReason, withAdmin } from '../support/postgres.ts'
import { REPLICA_SIGNING_SECRET } from '../support/relay.ts'
import { type RelayProcess, startRelayProcess, stopAllRelayProcesses } from '../support/relay-process.ts'
import { startSink } from '../support/sink.ts'

const SESSION = '191b80a9238'
const keyOf = (id: number) => `${SESSION}:message:${id}`
const ADMIN_TOKEN = 'replica-kill-admin-token'
/** The target's timeout is 10 s: a lease runs 2 × 10 s + 30 s (dispatcher.ts leaseMs). */
const LEASE_MS = 50_000

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  await stopAllRelayProcesses()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function post(relay: RelayProcess, id: number): Promise<boolean> {
  try {
    const response = await fetch(relay.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: wgEvent({ id, chat: `7999000${id % 7}@c.us` }),
      signal: AbortSignal.timeout(5000),
    })
    await response.arrayBuffer()
    return response.status === 200
  } catch {
    return false
  }
}

interface Replica {
  id: string
  startedAt: number
  lastBeatAt: number
  alive: boolean
  current: boolean
}

async function replicasOf(relay: RelayProcess): Promise<Replica[]> {
  const response = await fetch(`${relay.url}/admin/status`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    signal: AbortSignal.timeout(5000),
  })
  if (response.status !== 200) throw new Error(`status: HTTP ${response.status}`)
  return ((await response.json()) as { replicas: Replica[] }).replicas
}

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, ms: number) {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await read()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`${what} not within ${ms} ms: ${JSON.stringify(value)}`)
    await sleep(100)
  }
}

const replicaIdOf = async (relay: RelayProcess) =>
  JSON.parse(await relay.waitForLine(/"msg":"replica heartbeat started"/)).replica as string

describe.skipIf(postgresSkipReason !== null)(
  `a replica killed under load${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
  () => {
    it('has its deliveries sent by the other within 20 s, none lost, and shows dead, then forgotten', async () => {
      const sink = await startSink({ respondWith: () => ({ status: 200, delayMs: 1000 }) })
      cleanups.push(() => sink.close())
      const database = await freshDatabase('relay_replica_kill')
      cleanups.push(() => database.drop())
      const env = {
        DATABASE_URL: database.url,
        FORWARD_SECRET: REPLICA_SIGNING_SECRET,
        ADMIN_TOKEN,
        TARGETS: JSON.stringify([{ name: 'sink', url: `${sink.url}/hook`, events: ['*'], concurrency: 8 }]),
        REPLICA_FORGET_AFTER_SECONDS: '25',
      }
      const [victim, survivor] = (await Promise.all([
        startRelayProcess({ env }),
        startRelayProcess({ env }),
      ])) as [RelayProcess, RelayProcess]
      const victimId = await replicaIdOf(victim)
      const survivorId = await replicaIdOf(survivor)
      await waitFor(
        () => replicasOf(survivor),
        (list) => list.length === 2,
        'both replicas listed',
        10_000,
      )

      // A steady load, on both replicas while both live, then on the survivor alone.
      const acked: number[] = []
      let next = 1
      let loading = true
      let killed = false
      const posts: Promise<unknown>[] = []
      const load = (async () => {
        while (loading) {
          const id = next++
          const to = killed || id % 2 === 0 ? survivor : victim
          posts.push(post(to, id).then((ok) => ok && acked.push(id)))
          await sleep(100)
        }
      })()
      const leasesOf = (owner: string) =>
        withAdmin(
          (client) =>
            client
              .query<{ id: string; key: string; expires: string }>(
                `SELECT d.id, e.key, d.lease_expires_at AS expires FROM deliveries d
                 JOIN events e ON e.seq = d.event_seq WHERE d.lease_owner = $1 AND d.status = 'pending'`,
                [owner],
              )
              .then((result) => result.rows),
          database.url,
        )
      await waitFor(
        () => leasesOf(victimId),
        (rows) => rows.length >= 2,
        'the victim holding leases',
        20_000,
      )

      await victim.kill('SIGKILL')
      const killedAt = Date.now()
      killed = true
      const orphans = await leasesOf(victimId)
      expect(orphans.length).toBeGreaterThan(0)
      // Left alone, these leases would hold their deliveries far longer than 20 s.
      for (const orphan of orphans) expect(Number(orphan.expires)).toBeGreaterThan(killedAt + 25_000)

      const status = await waitFor(
        () => replicasOf(survivor),
        (list) => list.some((r) => r.id === victimId && !r.alive),
        'the victim shown dead',
        25_000,
      )
      expect(status.find((r) => r.id === survivorId)).toMatchObject({ alive: true, current: true })
      await sleep(3000)
      loading = false
      await load
      await Promise.all(posts)

      // Every acknowledged event delivered, none leased: nothing is under way any more.
      await waitFor(
        () =>
          withAdmin(
            (client) =>
              client
                .query<{ done: string; busy: string }>(`
                  SELECT count(*) FILTER (WHERE status = 'delivered' AND lease_owner IS NULL) AS done,
                         count(*) FILTER (WHERE status <> 'delivered' OR lease_owner IS NOT NULL) AS busy
                  FROM deliveries`)
                .then((result) => result.rows[0]),
            database.url,
          ),
        (counts) => Number(counts?.done) >= acked.length && Number(counts?.busy) === 0,
        'every delivery delivered',
        LEASE_MS,
      )
      const sent = new Map<string, number[]>()
      for (const request of sink.requests) {
        const key = String(request.headers['webhook-id'])
        sent.set(key, [...(sent.get(key) ?? []), request.at])
      }
      for (const id of acked) expect(sent.has(keyOf(id)), `event ${id} delivered`).toBe(true)

      // Each orphan sent again by the survivor, within 20 s of the kill.
      const resumedAfter = orphans.map(({ key }) => {
        const after = (sent.get(key) ?? []).filter((at) => at > killedAt)
        expect(after, `${key} sent after the kill`).not.toHaveLength(0)
        return Math.min(...after) - killedAt
      })
      expect(Math.max(...resumedAfter)).toBeLessThan(20_000)

      // A second send only of an orphan, once: the victim's own send, cut by the kill.
      const orphanKeys = new Set(orphans.map((o) => o.key))
      for (const [key, times] of sent) {
        if (times.length === 1) continue
        expect(orphanKeys.has(key), `${key} sent ${times.length} times`).toBe(true)
        expect(times.filter((at) => at <= killedAt)).toHaveLength(1)
        expect(times).toHaveLength(2)
      }

      await waitFor(
        () => replicasOf(survivor),
        (list) => list.length === 1 && list[0]?.id === survivorId,
        'the victim forgotten',
        40_000,
      )

      // A clean stop removes the survivor's own heartbeat: no row is left to be found dead.
      expect(await survivor.kill('SIGTERM')).toEqual({ code: 0, signal: null })
      const left = await withAdmin(
        (client) => client.query('SELECT replica FROM replica_heartbeats').then((result) => result.rows),
        database.url,
      )
      expect(left).toEqual([])
    }, 180_000)
  },
)
