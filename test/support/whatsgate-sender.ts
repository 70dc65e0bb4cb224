// WhatsGate as a sender, for tests that break the relay under load: each event is posted to the
// callback URL and, without a 200 (no answer, a reset, a 503), sent again with the same id and the
// same bytes up to `retries` more times (WhatsGate: three, 20 s apart; a test passes a shorter
// delay). An event counts as acknowledged only once it was answered 200.
import { setTimeout as sleep } from 'node:timers/promises'
import { Agent, request } from 'undici'

export interface WhatsGateSenderOptions {
  /** Read at each attempt: the callback URL, wherever the relay listens now. */
  url: () => string
  retryDelayMs: number
  /** Default 3, as WhatsGate. */
  retries?: number
  /** An attempt without an answer after this long counts as no answer; default 5 s. */
  timeoutMs?: number
}

export interface SentEvent {
  body: string
  /** Each attempt's answer: its status, or the error that ended it. */
  answers: (number | string)[]
  acked: boolean
}

export interface WhatsGateSender {
  /** Starts sending one event; resolves when it was acknowledged or its last retry failed. */
  send(id: number, body: string): Promise<void>
  /** Every event sent so far, by id. */
  readonly events: Map<number, SentEvent>
  readonly ackedCount: number
  /** Waits for every event's attempts to end, then closes the connections. */
  close(): Promise<void>
}

export function whatsGateSender(options: WhatsGateSenderOptions): WhatsGateSender {
  const { retries = 3, timeoutMs = 5000 } = options
  const agent = new Agent({ connections: 32, keepAliveTimeout: 5000 })
  const events = new Map<number, SentEvent>()
  const sending = new Set<Promise<void>>()
  let ackedCount = 0

  async function attempt(event: SentEvent): Promise<boolean> {
    try {
      const response = await request(options.url(), {
        dispatcher: agent,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: event.body,
        signal: AbortSignal.timeout(timeoutMs),
      })
      await response.body.text()
      event.answers.push(response.statusCode)
      return response.statusCode === 200
    } catch (error) {
      const code = (error as { code?: unknown }).code
      event.answers.push(typeof code === 'string' ? code : String(error))
      return false
    }
  }

  async function deliver(event: SentEvent): Promise<void> {
    for (let i = 0; i <= retries; i++) {
      if (i > 0) await sleep(options.retryDelayMs)
      if (await attempt(event)) {
        event.acked = true
        ackedCount++
        return
      }
    }
  }

  return {
    send(id, body) {
      if (events.has(id)) throw new Error(`event ${id} was sent already`)
      const event: SentEvent = { body, answers: [], acked: false }
      events.set(id, event)
      const done = deliver(event)
      sending.add(done)
      void done.finally(() => sending.delete(done))
      return done
    },
    events,
    get ackedCount() {
      return ackedCount
    },
    async close() {
      while (sending.size > 0) await Promise.all(sending)
      await agent.close()
    },
  }
}
