// "Acked means stored", tested on the real process: a relay killed with SIGKILL (power cut,
// OOM killer) or stopped with SIGTERM (deploy) has on disk every event it answered 200 for.
import { rmSync } from 'node:fs'
import { Pool } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { readOutbox, tempDir } from '../support/relay.ts'
import { type RelayProcess, startRelayProcess, stopAllRelayProcesses } from '../support/relay-process.ts'

const SESSION = '191b80a9238'

/**
 * A distinct message event whose bytes a re-serialisation would not reproduce: varying indentation,
 * a trailing newline, escaped and raw non-ASCII text.
 */
function eventBody(i: number): Buffer {
  const event = {
    id: i,
    whatsapp_id: SESSION,
    event_action: 'message',
    event_date: '2024-03-01 12:00:00',
    status_code: null,
    event_data: {
      message: {
        id: `false_7999${i % 7}@c.us_3EB0${i.toString(16).toUpperCase()}`,
        body: `привет 👋 №${i}`,
        type: 'chat',
        timestamp: 1709294400 + i,
        from: `7999${i % 7}@c.us`,
        hasMedia: false,
      },
    },
  }
  let text = JSON.stringify(event, null, i % 3 === 0 ? undefined : i % 3)
  if (i % 5 === 0) text = text.replace('привет', '\\u043f\\u0440\\u0438\\u0432\\u0435\\u0442')
  return Buffer.from(i % 2 === 0 ? `${text}\n` : text)
}

const keyOf = (i: number) => `${SESSION}:message:${i}`

interface Traffic {
  /** Acknowledged keys and the bytes sent for them. */
  acked: Map<string, Buffer>
  /** Keys of every request sent (answered or not). */
  sent: Map<string, Buffer>
  statuses: Map<number, number>
  errors: number
  /** 200 answers whose body is not the expected `{"result":"OK","id":N}`. */
  badAnswers: string[]
}

/**
 * Posts events `from..to-1` over `concurrency` keep-alive connections. `onAck(ackedSoFar)` runs
 * synchronously after each 200, so a test can kill the relay at an exact point; once `stop()`
 * returns true no new request starts.
 */
async function sendEvents(
  relay: RelayProcess,
  {
    from,
    to,
    concurrency,
    onAck = () => {},
    stop = () => false,
  }: {
    from: number
    to: number
    concurrency: number
    onAck?: (acked: number, inFlight: number) => void
    stop?: () => boolean
  },
): Promise<Traffic> {
  const pool = new Pool(relay.url, { connections: concurrency, pipelining: 1 })
  const traffic: Traffic = {
    acked: new Map(),
    sent: new Map(),
    statuses: new Map(),
    errors: 0,
    badAnswers: [],
  }
  let next = from
  let inFlight = 0
  const path = new URL(relay.webhookUrl).pathname
  async function worker(): Promise<void> {
    while (next < to && !stop()) {
      const i = next++
      const body = eventBody(i)
      traffic.sent.set(keyOf(i), body)
      inFlight++
      let answer: { status: number; text: string }
      try {
        const response = await pool.request({
          path,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        })
        answer = { status: response.statusCode, text: await response.body.text() }
      } catch {
        // The relay died or closed the connection: this event was never acknowledged.
        inFlight--
        traffic.errors++
        continue
      }
      inFlight--
      traffic.statuses.set(answer.status, (traffic.statuses.get(answer.status) ?? 0) + 1)
      if (answer.status === 200) {
        traffic.acked.set(keyOf(i), body)
        if (answer.text !== `{"result":"OK","id":${i}}`) traffic.badAnswers.push(answer.text)
        onAck(traffic.acked.size, inFlight)
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: concurrency }, worker))
  } finally {
    await pool.destroy()
  }
  return traffic
}

/** Every acknowledged event is stored with its bytes; nothing stored that was not sent. */
function expectAckedStored(dataDir: string, traffic: Traffic): void {
  expect(traffic.badAnswers).toEqual([])
  const stored = new Map(readOutbox(dataDir).events.map((e) => [e.key, e.body]))
  const missing = [...traffic.acked.keys()].filter((key) => !stored.has(key))
  expect(missing, 'acknowledged but not stored').toEqual([])
  for (const [key, body] of traffic.acked) expect(stored.get(key)?.equals(body), key).toBe(true)
  for (const [key, body] of stored) {
    expect(traffic.sent.has(key), `stored but never sent: ${key}`).toBe(true)
    expect(body.equals(traffic.sent.get(key) as Buffer), key).toBe(true)
  }
}

describe('durability of the running process', () => {
  const dirs: string[] = []
  const freshDir = () => {
    const dir = tempDir('relay-durability-')
    dirs.push(dir)
    return dir
  }
  afterEach(async () => {
    await stopAllRelayProcesses()
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })

  it('SIGKILL right after the last 200: a restart on the same DATA_DIR holds every acked event, byte for byte', async () => {
    const N = 300
    const dataDir = freshDir()
    const relay = await startRelayProcess({ dataDir, env: { LOG_LEVEL: 'warn' } })
    const traffic = await sendEvents(relay, {
      from: 0,
      to: N,
      concurrency: 16,
      onAck: (acked) => {
        // Synchronously, before anything else runs: no chance for a graceful close.
        if (acked === N) relay.child.kill('SIGKILL')
      },
    })
    expect(traffic.acked.size).toBe(N)
    expect(await relay.exited).toEqual({ code: null, signal: 'SIGKILL' })

    const restarted = await startRelayProcess({ dataDir, env: { LOG_LEVEL: 'warn' } })
    // A retry of an acknowledged event (WhatsGate resending) is answered OK and not stored twice.
    const retry = await sendEvents(restarted, { from: 0, to: 20, concurrency: 4 })
    expect(retry.acked.size).toBe(20)
    expect(await restarted.kill('SIGTERM')).toEqual({ code: 0, signal: null })

    expectAckedStored(dataDir, traffic)
    expect(readOutbox(dataDir).events).toHaveLength(N)
  })

  it('SIGKILL in the middle of a stream: what was acked is stored, what was not may be, nothing else', async () => {
    const dataDir = freshDir()
    const relay = await startRelayProcess({ dataDir, env: { LOG_LEVEL: 'warn' } })
    let inFlightAtKill = 0
    const traffic = await sendEvents(relay, {
      from: 0,
      to: 2000,
      concurrency: 16,
      onAck: (acked, inFlight) => {
        if (acked === 150) {
          inFlightAtKill = inFlight
          relay.child.kill('SIGKILL')
        }
      },
      stop: () => relay.hasExited(),
    })
    expect(await relay.exited).toEqual({ code: null, signal: 'SIGKILL' })
    expect(inFlightAtKill, 'requests in flight when killed').toBeGreaterThan(0)
    expect(traffic.acked.size).toBeGreaterThanOrEqual(150)
    expect(traffic.errors).toBeGreaterThan(0)

    const restarted = await startRelayProcess({ dataDir, env: { LOG_LEVEL: 'warn' } })
    expect(await restarted.kill('SIGTERM')).toEqual({ code: 0, signal: null })
    expectAckedStored(dataDir, traffic)
  })

  it('SIGTERM with requests in flight: exits 0 within seconds, and every 200 it gave is stored', async () => {
    const dataDir = freshDir()
    const relay = await startRelayProcess({ dataDir })
    let signalledAt = 0
    let inFlightAtSignal = 0
    const traffic = await sendEvents(relay, {
      from: 0,
      to: 5000,
      concurrency: 16,
      onAck: (acked, inFlight) => {
        if (acked === 100) {
          inFlightAtSignal = inFlight
          signalledAt = Date.now()
          relay.child.kill('SIGTERM')
        }
      },
      stop: () => relay.hasExited(),
    })
    const exit = await relay.exited
    const shutdownMs = Date.now() - signalledAt
    expect(exit).toEqual({ code: 0, signal: null })
    expect(shutdownMs).toBeLessThan(5000)
    expect(inFlightAtSignal, 'requests in flight when signalled').toBeGreaterThan(0)
    expect(relay.stdoutLines.some((line) => line.includes('"msg":"shutting down"'))).toBe(true)
    expect(relay.stderrLines).toEqual([])
    // While closing the relay answers 503 (WhatsGate retries) or drops the connection; never a 200
    // it does not keep, never another status.
    expect([...traffic.statuses.keys()].filter((status) => status !== 200 && status !== 503)).toEqual([])
    expectAckedStored(dataDir, traffic)
  })
})
