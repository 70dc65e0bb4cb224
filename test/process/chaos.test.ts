// The chaos bench in short (bench/chaos.ts has the long one): a real relay process under a steady
// WhatsGate load, killed with SIGKILL three times on one DATA_DIR, its target flapping once through
// 500s, 429s, a stall and a closed port. No acknowledged event may be lost, and a duplicate may
// only be a send that a kill cut: the same webhook-id, byte for byte the same body.
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil, wgEvent } from '../support/events.ts'
import { freePort } from '../support/free-port.ts'
import { type RelayProcess, startRelayProcess, stopAllRelayProcesses } from '../support/relay-process.ts'
import { type ReplyHandler, type Sink, startSink } from '../support/sink.ts'
import { whatsGateSender } from '../support/whatsgate-sender.ts'

const SESSION = '191b80a9238'
const keyOf = (id: number) => `${SESSION}:message:${id}`
const idOf = (key: string) => Number(key.slice(key.lastIndexOf(':') + 1))

let sinks: Sink[] = []
afterEach(async () => {
  await stopAllRelayProcesses()
  await Promise.all(sinks.map((sink) => sink.close()))
  sinks = []
})

/** Deliveries the relay still has to finish: pending, or leased to a send under way. */
function unfinished(dataDir: string): number {
  const db = new DatabaseSync(join(dataDir, 'relay.sqlite'), { readOnly: true })
  try {
    const row = db
      .prepare(`SELECT count(*) AS n FROM deliveries WHERE status <> 'delivered' OR lease_owner IS NOT NULL`)
      .get()
    return Number(row?.n)
  } finally {
    db.close()
  }
}

type Mode = 'healthy' | 'error' | 'throttle' | 'stall'

describe('chaos: kill -9 and a flapping target under load', () => {
  it('loses no acknowledged event; each duplicate is one webhook-id, byte for byte, cut by a kill', async () => {
    // The target: answers as `mode` says; a 200 is a delivery, the rest are not.
    let mode: Mode = 'healthy'
    const answered: Record<Mode, number> = { healthy: 0, error: 0, throttle: 0, stall: 0 }
    const firstOk = new Map<string, number>()
    const okCount = new Map<string, number>()
    const respond: ReplyHandler = async (request) => {
      answered[mode]++
      if (mode === 'error') return { status: 500 }
      if (mode === 'throttle') return { status: 429, headers: { 'retry-after': '1' } }
      if (mode === 'stall') return { stall: true }
      // A target that takes a moment: a kill finds sends under way.
      await sleep(30)
      const key = String(request.headers['webhook-id'])
      if (!firstOk.has(key)) firstOk.set(key, Date.now())
      okCount.set(key, (okCount.get(key) ?? 0) + 1)
      return { status: 200 }
    }
    const startTarget = async (port?: number) => {
      const sink = await startSink({ respondWith: respond, ...(port ? { port } : {}) })
      sinks.push(sink)
      return sink
    }
    const firstSink = await startTarget()
    const sinkPort = Number(new URL(firstSink.url).port)

    // One port for every life of the relay: WhatsGate has one callback URL.
    const env = {
      PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
      TARGETS: JSON.stringify([
        {
          name: 'app',
          url: `${firstSink.url}/hook`,
          events: ['*'],
          concurrency: 8,
          timeoutMs: 1000,
          retry: { maxAttempts: 1000, initialDelayMs: 200, maxDelayMs: 1000 },
        },
      ]),
    }
    let relay: RelayProcess = await startRelayProcess({ env })
    const { dataDir } = relay
    const kills: number[] = []
    const killAndRestart = async () => {
      kills.push(Date.now())
      await relay.kill('SIGKILL')
      relay = await startRelayProcess({ env, dataDir })
    }

    // WhatsGate: a steady 50 events/s until the chaos is over, each retried 1.5 s apart.
    const sender = whatsGateSender({ url: () => relay.webhookUrl, retryDelayMs: 1500 })
    let chaosOver = false
    const load = (async () => {
      for (let id = 1; !chaosOver && id <= 2000; id++) {
        void sender.send(id, wgEvent({ id, chat: `7999000${id % 5}@c.us` }))
        await sleep(20)
      }
    })()
    const moreAcked = (count: number) => {
      const target = sender.ackedCount + count
      return waitUntil(() => sender.ackedCount >= target, `${target} events acknowledged`, 20_000)
    }

    try {
      await moreAcked(40)
      await killAndRestart()
      await moreAcked(40)
      await killAndRestart()

      // The flap: 500s, then 429 with Retry-After, then a stall past the relay's timeout, then down.
      mode = 'error'
      await waitUntil(() => answered.error >= 5, 'five 500s')
      mode = 'throttle'
      await waitUntil(() => answered.throttle >= 2, 'two 429s')
      mode = 'stall'
      await waitUntil(() => answered.stall >= 1, 'a stalled send')
      await (sinks.at(-1) as Sink).close()
      await moreAcked(30)
      mode = 'healthy'
      const okBefore = answered.healthy
      await startTarget(sinkPort)
      await waitUntil(() => answered.healthy > okBefore, 'the target to take deliveries again', 20_000)

      await moreAcked(40)
      await killAndRestart()
      await moreAcked(20)
    } finally {
      chaosOver = true
      await load
      await sender.close()
    }

    const acked = [...sender.events].filter(([, event]) => event.acked).map(([id]) => id)
    await waitUntil(
      () => acked.every((id) => firstOk.has(keyOf(id))),
      'every acknowledged event at the target',
      20_000,
    )
    // Nothing pending or leased: no send is under way, so no duplicate is still to come.
    await waitUntil(() => unfinished(dataDir) === 0, 'the outbox to finish', 20_000)

    const lost = acked.filter((id) => !firstOk.has(keyOf(id)))
    expect(lost).toEqual([])
    // Every request for one webhook-id carried the bytes WhatsGate sent for that event.
    const requests = sinks.flatMap((sink) => sink.requests)
    for (const request of requests) {
      const key = String(request.headers['webhook-id'])
      expect(request.body.toString('utf8'), key).toBe(sender.events.get(idOf(key))?.body)
    }
    // A second 200 for one webhook-id comes only from a send the relay could not record: its first
    // 200 came shortly before a kill.
    const duplicated = [...okCount].filter(([, count]) => count > 1).map(([key]) => key)
    const cutByKill = (key: string) => {
      const at = firstOk.get(key) as number
      return kills.some((kill) => at <= kill + 1000 && at >= kill - 10_000)
    }
    expect(duplicated.filter((key) => !cutByKill(key))).toEqual([])

    const gaveUp = sender.events.size - acked.length
    console.info(
      `chaos: ${sender.events.size} events, ${acked.length} acknowledged, ${gaveUp} unacknowledged after 3 retries, ` +
        `${firstOk.size} delivered, ${duplicated.length} duplicated; target answered ${JSON.stringify(answered)}`,
    )
    expect(acked.length).toBeGreaterThanOrEqual(170)
    expect(kills).toHaveLength(3)
  }, 60_000)
})
