// The chaos bench's load: WhatsGate as a sender, at an even rate in an open loop. An event that got
// no answer or an answer other than 200 is sent again (same id, same bytes) up to `retries` more
// times, as WhatsGate does (20 s apart there); it counts as acknowledged only once answered 200.
import { Agent, request } from 'undici'
import { idFromAck, messageEventBody } from './event.ts'
import type { IdSource } from './load.ts'
import { nowMs, sleep } from './process.ts'

export interface WhatsGateLoadOptions {
  /** Events per second. */
  rate: number
  ids: IdSource
  /** The URL for each attempt: a relay restarted elsewhere, or the next of several replicas. */
  url: () => string
  retries: number
  retryDelayMs: number
  /** An attempt without an answer after this long counts as no answer. */
  timeoutMs: number
}

export interface WhatsGateTally {
  /** Events (each sent once or more). */
  events: number
  requests: number
  /** Requests by answer: 200, 503, any other status, and none (refused, reset, timed out). */
  ok: number
  unavailable: number
  otherStatus: number
  noAnswer: number
  /** Requests without an answer, by error code (ECONNREFUSED, ECONNRESET, TimeoutError, ...). */
  noAnswerBy: Map<string, number>
  /** Ids answered 200 at least once. */
  acked: Set<number>
  /** Events still without a 200 after the last retry. */
  gaveUp: number
  /** 200s whose body named another event's id. */
  wrongAckIds: number
}

export interface WhatsGateLoad {
  readonly tally: WhatsGateTally
  /** Stops sending new events, waits for the retries of those sent, and closes the connections. */
  stop(): Promise<void>
}

export function startWhatsGateLoad(options: WhatsGateLoadOptions): WhatsGateLoad {
  const tally: WhatsGateTally = {
    events: 0,
    requests: 0,
    ok: 0,
    unavailable: 0,
    otherStatus: 0,
    noAnswer: 0,
    noAnswerBy: new Map(),
    acked: new Set(),
    gaveUp: 0,
    wrongAckIds: 0,
  }
  // A cap per relay, as a sender has: beyond it requests queue here, and the timeout counts that wait.
  const agent = new Agent({ connections: 128, pipelining: 1, keepAliveTimeout: 10_000 })
  const inFlight = new Set<Promise<void>>()

  /** One attempt; true when answered 200. */
  const attempt = async (id: number, body: string): Promise<boolean> => {
    tally.requests++
    try {
      const response = await request(options.url(), {
        dispatcher: agent,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(options.timeoutMs),
      })
      const text = await response.body.text()
      if (response.statusCode === 200) {
        tally.ok++
        if (idFromAck(text) !== id) tally.wrongAckIds++
        return true
      }
      if (response.statusCode === 503) tally.unavailable++
      else tally.otherStatus++
    } catch (error) {
      tally.noAnswer++
      const code = errorCode(error)
      tally.noAnswerBy.set(code, (tally.noAnswerBy.get(code) ?? 0) + 1)
    }
    return false
  }

  const sendEvent = async (id: number) => {
    const body = messageEventBody(id)
    for (let i = 0; i <= options.retries; i++) {
      if (i > 0) await sleep(options.retryDelayMs)
      if (await attempt(id, body)) {
        tally.acked.add(id)
        return
      }
    }
    tally.gaveUp++
  }

  let running = true
  const pacing = (async () => {
    const start = nowMs()
    const intervalMs = 1000 / options.rate
    while (running) {
      const due = Math.floor((nowMs() - start) / intervalMs) + 1
      while (tally.events < due) {
        tally.events++
        const sending = sendEvent(options.ids.next++)
        inFlight.add(sending)
        void sending.finally(() => inFlight.delete(sending))
      }
      await sleep(2)
    }
  })()

  return {
    tally,
    async stop() {
      running = false
      await pacing
      await Promise.all(inFlight)
      await agent.close()
    },
  }
}

function errorCode(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown'
  const code = (error as { code?: unknown }).code ?? (error.cause as { code?: unknown } | undefined)?.code
  return typeof code === 'string' ? code : error.name
}
