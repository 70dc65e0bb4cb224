// The relay as the destination tests drive it: the real app on a fresh SQLite file, its targets in
// TARGETS, events posted as WhatsGate posts them, outcomes read from the outbox and the admin API.
import { afterEach, expect } from 'vitest'
import { waitUntil, wgEvent } from '../support/events.ts'
import { buildTestApp, readOutbox } from '../support/relay.ts'
import type { Proxy as TcpProxy } from '../support/tcp-proxy.ts'

export const ADMIN_TOKEN = 'admin-token-0123456789'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }

/** Retries quick enough for a test, many enough to outlast a broker kept away for a few seconds. */
export const quickRetry = { maxAttempts: 100, initialDelayMs: 100, maxDelayMs: 500 }

let cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const step of cleanup.reverse()) await step()
  cleanup = []
})

/** Runs after the test, in reverse order of registration, relay first. */
export function onCleanup(step: () => Promise<void> | void): void {
  cleanup.push(async () => {
    await step()
  })
}

export async function relayWith(targets: object[]) {
  const relay = await buildTestApp({ TARGETS: JSON.stringify(targets), ADMIN_TOKEN }, undefined, {
    delays: { pollIntervalMs: 100 },
  })
  onCleanup(() => relay.close())
  await relay.app.ready()
  const deliveries = () => readOutbox(relay.dataDir).deliveries
  return {
    ...relay,
    /** Posts one event; ingest must answer 200 whatever the broker's state. */
    async post(body: string) {
      const response = await relay.post(body)
      expect(response.statusCode, response.body).toBe(200)
    },
    deliveries,
    allDelivered: (count: number, timeoutMs = 15_000) =>
      waitUntil(
        () => deliveries().length === count && deliveries().every((d) => d.status === 'delivered'),
        `${count} deliveries delivered`,
        timeoutMs,
      ),
    /** GET /admin/deliveries/:id of the target's first delivery: its attempt history. */
    async firstDelivery(target: string) {
      // The oldest: the page just after id 0.
      const list = await relay.app.inject({
        url: `/admin/deliveries?target=${target}&after=0&limit=1`,
        headers: auth,
      })
      const id = (list.json() as { deliveries: { id: number }[] }).deliveries[0]?.id
      if (id === undefined) throw new Error(`no delivery for ${target}`)
      const detail = await relay.app.inject({ url: `/admin/deliveries/${id}`, headers: auth })
      return detail.json() as {
        status: string
        history: {
          status: number | null
          errorClass: string | null
          error: string | null
          responseExcerpt: string | null
        }[]
      }
    },
  }
}

/** Polls an asynchronous check (a broker's own view) until it holds; fails with `what` after timeoutMs. */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Events across two sessions, several actions and two chats: what routing has to tell apart. */
export function mixedEvents(): { body: string; session: string; action: string; key: string }[] {
  const specs = [
    { id: 1, action: 'message', whatsappId: 'sessionA', chat: '79990000001@c.us' },
    { id: 2, action: 'ack', whatsappId: 'sessionA', chat: '79990000001@c.us' },
    { id: 3, action: 'ready', whatsappId: 'sessionB' },
    { id: 4, action: 'message', whatsappId: 'sessionB', chat: '120363000000000001@g.us' },
    { id: 5, action: 'media', whatsappId: 'sessionA' },
  ]
  return specs.map((spec) => ({
    body: wgEvent({ ...spec, text: `hi ${spec.id} ✓` }),
    session: spec.whatsappId,
    action: spec.action,
    key: `${spec.whatsappId}:${spec.action}:${spec.id}`,
  }))
}

/** Messages of two chats, interleaved: each chat's ids must arrive in increasing order. */
export function chatEvents(perChat: number): string[] {
  const bodies: string[] = []
  for (let i = 1; i <= perChat; i++) {
    bodies.push(wgEvent({ id: i, chat: '79990000001@c.us', text: `a${i}` }))
    bodies.push(wgEvent({ id: 1000 + i, chat: '79990000002@c.us', text: `b${i}` }))
  }
  return bodies
}

/** Each chat's event ids in the order `bodies` arrived. */
export function idsPerChat(bodies: Buffer[]): Map<string, number[]> {
  const chats = new Map<string, number[]>()
  for (const body of bodies) {
    const event = JSON.parse(body.toString()) as { id: number; event_data: { message: { from: string } } }
    const chat = event.event_data.message.from
    chats.set(chat, [...(chats.get(chat) ?? []), event.id])
  }
  return chats
}

export const sortedNumbers = (ids: number[]) => [...ids].sort((a, b) => a - b)

export interface OutageDrill {
  relay: Awaited<ReturnType<typeof relayWith>>
  /** Stopped: the broker was out of reach when the relay started. */
  proxy: TcpProxy
  /** The target's name. */
  target: string
  /** How many of the drill's events the broker holds now, by its own account. */
  arrived: () => Promise<number> | number
  /** The first attempt's error while the broker was never reached (`^amqp: .*ECONNREFUSED`). */
  refused: RegExp
  /** Any attempt's error once a live connection was cut (`^amqp: `). */
  cut: RegExp
}

/**
 * The outage every broker kind goes through: out of reach from the start, then back; connected
 * and cut, then back. Ingest answers 200 all along; deliveries fail as `connection` attempts and
 * stay pending; once the broker is back each arrives exactly once, without a restart.
 */
export async function outageDrill({ relay, proxy, target, arrived, refused, cut }: OutageDrill) {
  const first = [1, 2].map((id) => wgEvent({ id }))
  for (const body of first) await relay.post(body)
  await waitUntil(() => relay.deliveries().every((d) => d.attempts >= 2), 'failed attempts')
  const failing = await relay.firstDelivery(target)
  expect(failing.status).toBe('pending')
  expect(failing.history[0]).toMatchObject({ status: null, errorClass: 'connection' })
  expect(failing.history[0]?.error).toMatch(refused)
  expect(await arrived()).toBe(0)

  await proxy.start()
  await relay.allDelivered(2, 20_000)
  await eventually(async () => (await arrived()) >= 2, 'two events at the broker')
  expect(await arrived()).toBe(2)

  // A live connection cut: the client reconnects by itself once the broker is back.
  await proxy.stop()
  const second = [3, 4].map((id) => wgEvent({ id }))
  for (const body of second) await relay.post(body)
  await waitUntil(
    () => relay.deliveries().filter((d) => d.status === 'pending' && d.attempts >= 2).length === 2,
    'failed attempts while cut off',
  )
  for (const delivery of relay.deliveries().filter((d) => d.status === 'pending')) {
    expect(delivery.lastError).toMatch(cut)
  }
  await proxy.start()
  await relay.allDelivered(4, 20_000)
  await eventually(async () => (await arrived()) >= 4, 'four events at the broker')
  expect(await arrived()).toBe(4)
  return [...first, ...second]
}
