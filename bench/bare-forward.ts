import { Pool } from 'undici'
import type { IdSource } from './load.ts'
import { type LatencyHistogram, latencyHistogram, sampleForeignCpu, waitForIdle } from './measure.ts'
import type { Sink } from './sink.ts'
import { nowMs } from './support.ts'
import { BENCH_SESSION, eventKey, messageEventBody } from './whatsgate-event.ts'

export interface BareForward {
  foreignCores: number
  rps: number
  received: number
  errors: number
  latency: LatencyHistogram
  alteredBodies: number
}

/** The forwarding limit: what one undici pool with keep-alive pushes into the sink. */
export async function bareForward(
  sink: Sink,
  seconds: number,
  inFlight: number,
  ids: IdSource,
): Promise<BareForward> {
  await waitForIdle('the bare forwarder')
  await sink.reset(ids.next)
  const target = new URL(sink.url)
  const pool = new Pool(target.origin, { connections: inFlight, pipelining: 1, keepAliveTimeout: 30_000 })
  const latency = latencyHistogram()
  let errors = 0
  const foreign = sampleForeignCpu()
  const start = nowMs()
  const end = start + seconds * 1000
  const worker = async () => {
    while (nowMs() < end) {
      const id = ids.next++
      const sentAt = nowMs()
      try {
        const { statusCode, body } = await pool.request({
          path: target.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'whatsgate-relay-bench',
            'webhook-id': eventKey(id),
            'x-whatsgate-event': 'message',
            'x-whatsgate-session': BENCH_SESSION,
          },
          body: messageEventBody(id),
        })
        await body.dump()
        if (statusCode === 200) latency.record(nowMs() - sentAt)
        else errors++
      } catch {
        errors++
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: inFlight }, worker))
  } finally {
    await pool.close()
  }
  const elapsed = (nowMs() - start) / 1000
  const foreignCores = foreign.stop()
  const stats = await sink.stats()
  return {
    foreignCores,
    rps: stats.received / elapsed,
    received: stats.received,
    errors,
    latency,
    alteredBodies: stats.alteredBodies,
  }
}
