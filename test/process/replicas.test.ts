// Two relay processes on one PostgreSQL database, behind one callback URL (the same INGEST_TOKEN):
// WhatsGate's events land on either, and each is still delivered once, each chat in order.
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil, wgEvent } from '../support/events.ts'
import { freshDatabase, postgresSkipReason, withAdmin } from '../support/postgres.ts'
import { REPLICA_SIGNING_SECRET } from '../support/relay.ts'
import { type RelayProcess, startRelayProcess, stopAllRelayProcesses } from '../support/relay-process.ts'
import { type Sink, startSink } from '../support/sink.ts'

const SESSION = '191b80a9238'
const keyOf = (id: number) => `${SESSION}:message:${id}`

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  await stopAllRelayProcesses()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A sink, a fresh database and two relays on it, both delivering to the sink. */
async function twoReplicas(target: Record<string, unknown>, respond?: Parameters<typeof startSink>[0]) {
  const sink = await startSink(respond)
  cleanups.push(() => sink.close())
  const database = await freshDatabase('relay_replicas')
  cleanups.push(() => database.drop())
  const env = {
    DATABASE_URL: database.url,
    FORWARD_SECRET: REPLICA_SIGNING_SECRET,
    TARGETS: JSON.stringify([{ name: 'sink', url: `${sink.url}/hook`, events: ['*'], ...target }]),
    // The dispatcher logs each delivery at debug: which replica sent what.
    LOG_LEVEL: 'debug',
  }
  // Started together: both migrate the empty database at once.
  const relays = await Promise.all([startRelayProcess({ env }), startRelayProcess({ env })])
  return { sink, relays, databaseUrl: database.url }
}

async function post(relay: RelayProcess, id: number, chat: string): Promise<void> {
  const response = await fetch(relay.webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: wgEvent({ id, chat }),
    signal: AbortSignal.timeout(5000),
  })
  const answer = await response.text()
  if (response.status !== 200) throw new Error(`event ${id}: HTTP ${response.status} ${answer}`)
}

/** Resolves once every delivery is delivered and none is leased: no send can still be under way. */
async function allDelivered(databaseUrl: string, count: number): Promise<void> {
  const deadline = Date.now() + 20_000
  for (;;) {
    const { rows } = await withAdmin(
      (client) =>
        client.query<{ done: string; busy: string }>(`
          SELECT count(*) FILTER (WHERE status = 'delivered' AND lease_owner IS NULL) AS done,
                 count(*) FILTER (WHERE status <> 'delivered' OR lease_owner IS NOT NULL) AS busy
          FROM deliveries`),
      databaseUrl,
    )
    if (Number(rows[0]?.done) === count && Number(rows[0]?.busy) === 0) return
    if (Date.now() > deadline)
      throw new Error(`deliveries not finished after 20 s: ${JSON.stringify(rows[0])}`)
    await sleep(50)
  }
}

const deliveredBy = (relay: RelayProcess) =>
  relay.stdoutLines.filter((line) => line.includes('"msg":"delivered"')).length

const webhookIds = (sink: Sink) => sink.requests.map((r) => String(r.headers['webhook-id']))

describe.skipIf(postgresSkipReason !== null)(
  `two relays on one PostgreSQL database${postgresSkipReason ? ` (skipped: ${postgresSkipReason})` : ''}`,
  () => {
    it('delivers each event once, whichever replica took it and however often WhatsGate sent it', async () => {
      // A target slow enough that one replica alone would need longer than the other's 1 s poll:
      // both must take part, whichever of them WhatsGate's requests happen to wake first.
      const { sink, relays, databaseUrl } = await twoReplicas(
        { concurrency: 2 },
        { respondWith: () => ({ status: 200, delayMs: 50 }) },
      )
      const [a, b] = relays as [RelayProcess, RelayProcess]
      const ids = Array.from({ length: 60 }, (_, i) => i + 1)
      // Each event to one replica, then its retry to the other, all at once.
      await Promise.all(
        ids.flatMap((id) => {
          const [first, second] = id % 2 ? [a, b] : [b, a]
          return [post(first, id, `7999000${id % 7}@c.us`), post(second, id, `7999000${id % 7}@c.us`)]
        }),
      )
      await allDelivered(databaseUrl, ids.length)

      const seen = webhookIds(sink)
      expect(seen.slice().sort()).toEqual(ids.map(keyOf).sort())
      expect(new Set(seen).size).toBe(seen.length)
      expect(deliveredBy(a) + deliveredBy(b)).toBe(ids.length)
      expect(deliveredBy(a)).toBeGreaterThan(0)
      expect(deliveredBy(b)).toBeGreaterThan(0)
    })

    it('keeps each chat in order, one send at a time, with both replicas dispatching', async () => {
      const chatOfKey = new Map<string, string>()
      const inFlight = new Map<string, number>()
      const overlaps: string[] = []
      const { sink, relays, databaseUrl } = await twoReplicas(
        { ordering: 'chat', concurrency: 8 },
        {
          // A slow target: events of a chat arrive faster than it answers, so without ordering they
          // would overlap and overtake each other.
          respondWith: async (request) => {
            const chat = chatOfKey.get(String(request.headers['webhook-id'])) ?? '?'
            const sending = (inFlight.get(chat) ?? 0) + 1
            if (sending > 1) overlaps.push(`${chat}: ${sending} at once`)
            inFlight.set(chat, sending)
            await sleep(50)
            inFlight.set(chat, (inFlight.get(chat) ?? 1) - 1)
            return { status: 200 }
          },
        },
      )
      const [a, b] = relays as [RelayProcess, RelayProcess]
      const chats = ['79990000001@c.us', '79990000002@c.us', '79990000003@c.us', '120363000000000001@g.us']
      const posted = new Map<string, string[]>()
      // One after another, alternating replicas: the order WhatsGate sent them is well defined.
      for (let id = 1; id <= 40; id++) {
        const chat = chats[id % chats.length] as string
        chatOfKey.set(keyOf(id), chat)
        posted.set(chat, [...(posted.get(chat) ?? []), keyOf(id)])
        await post(id % 2 ? a : b, id, chat)
      }
      await allDelivered(databaseUrl, 40)
      await waitUntil(() => sink.requests.length >= 40, '40 requests at the sink')

      const received = new Map<string, string[]>()
      for (const id of webhookIds(sink)) {
        const chat = chatOfKey.get(id) ?? '?'
        received.set(chat, [...(received.get(chat) ?? []), id])
      }
      expect(received).toEqual(posted)
      expect(overlaps).toEqual([])
      expect(sink.requests).toHaveLength(40)
      expect(deliveredBy(a)).toBeGreaterThan(0)
      expect(deliveredBy(b)).toBeGreaterThan(0)
    })
  },
)
