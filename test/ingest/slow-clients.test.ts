// Slow or vanished clients cannot hold a connection: a real listening relay, real sockets that
// dribble a byte a second, and real requests served beside them.
import { once } from 'node:events'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { buildTestApp, readOutbox, TEST_TOKEN, tempDirsOfFile } from '../support/relay.ts'

const freshDir = tempDirsOfFile('relay-slow-')
type TestRelay = Awaited<ReturnType<typeof buildTestApp>>
const relays: TestRelay[] = []
afterEach(async () => {
  for (const relay of relays.splice(0)) await relay.close()
})

/** app.ts has Node check the headers and request deadlines every second. */
const CHECK_INTERVAL_MS = 1000
/** Room for a busy machine. */
const SLACK_MS = 1000
/** Node's keepAliveTimeoutBuffer: the socket outlives the advertised keep-alive timeout by this. */
const KEEP_ALIVE_BUFFER_MS = 1000

const ADMIN_TOKEN = 'admin-token-0123456789'

async function listening(env: Record<string, string>, logLines?: string[]) {
  const logger = logLines && pino({ level: 'warn' }, { write: (line: string) => void logLines.push(line) })
  const relay = await buildTestApp(env, undefined, { logger })
  relays.push(relay)
  await relay.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = relay.app.server.address() as { port: number }
  const admin = async (path: string) => {
    const response = await relay.app.inject({
      url: path,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(response.statusCode, path).toBe(200)
    return response
  }
  return { ...relay, port, url: `http://127.0.0.1:${port}`, admin }
}

interface Closed {
  /** From the connection to its close. */
  afterMs: number
  received: string
  /** Bytes of `dribbled` written before the close. */
  sent: number
}

/** Sends `atOnce` on connecting, then `dribbled` a byte a second; resolves when the socket closes. */
function slowClient(port: number, atOnce: string, dribbled: string): Promise<Closed> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let received = ''
    let sent = 0
    let started = 0
    let timer: NodeJS.Timeout | undefined
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      received += chunk
    })
    // A write after the server has cut the connection fails (EPIPE, ECONNRESET): that is the point.
    socket.on('error', () => {})
    socket.once('connect', () => {
      started = performance.now()
      socket.write(atOnce)
      const next = () => {
        if (sent < dribbled.length) socket.write(dribbled.charAt(sent++))
      }
      next()
      timer = setInterval(next, 1000)
    })
    socket.once('close', () => {
      clearInterval(timer)
      resolve({ afterMs: performance.now() - started, received, sent })
    })
  })
}

function event(id: number): string {
  return JSON.stringify({
    id,
    whatsapp_id: 'wa-slow',
    event_action: 'message',
    event_date: '2024-05-01 10:00:00',
    event_data: { message: { id: `false_79990000000@c.us_${id}`, body: 'hi', type: 'chat' } },
  })
}

describe('slow clients', () => {
  it('a client sending its headers a byte a second is cut off at the headers timeout while other requests are served', async () => {
    const headersTimeoutMs = 3000
    const relay = await listening({ HEADERS_TIMEOUT_MS: String(headersTimeoutMs) })
    const request = `POST /webhook/${TEST_TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n`
    let slowOpen = true
    const slow = slowClient(relay.port, '', request).finally(() => {
      slowOpen = false
    })

    // WhatsGate meanwhile: every event answered at once, on connections of its own.
    const answers: { status: number; ms: number }[] = []
    while (slowOpen) {
      const started = performance.now()
      const response = await fetch(`${relay.url}/webhook/${TEST_TOKEN}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: event(answers.length + 1),
      })
      await response.arrayBuffer()
      answers.push({ status: response.status, ms: performance.now() - started })
    }

    const { afterMs, received, sent } = await slow
    expect(sent).toBeGreaterThanOrEqual(3)
    expect(sent).toBeLessThan(request.length)
    expect(received).toMatch(/^HTTP\/1\.1 408 /)
    expect(afterMs).toBeGreaterThanOrEqual(headersTimeoutMs - 50)
    expect(afterMs).toBeLessThan(headersTimeoutMs + CHECK_INTERVAL_MS + SLACK_MS)
    expect(answers.length).toBeGreaterThan(10)
    expect(answers.filter((a) => a.status !== 200)).toEqual([])
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(1000)
    expect(readOutbox(relay.dataDir).events).toHaveLength(answers.length)
  })

  it('clients that stall in their headers or send no HTTP are cut, counted by reason, and logged once per address', async () => {
    const logLines: string[] = []
    const relay = await listening({ HEADERS_TIMEOUT_MS: '1000', ADMIN_TOKEN }, logLines)
    const halfHeaders = `POST /webhook/${TEST_TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le`
    const stalled = await Promise.all([1, 2, 3].map(() => slowClient(relay.port, halfHeaders, '')))
    const garbage = await slowClient(relay.port, 'HELLO THERE\r\n\r\n', '')

    expect(stalled.map((s) => s.received.split('\r\n')[0])).toEqual(
      Array(3).fill('HTTP/1.1 408 Request Timeout'),
    )
    expect(garbage.received).toMatch(/^HTTP\/1\.1 400 /)
    const metrics = (await relay.admin('/metrics')).body
    expect(metrics).toContain('whatsgate_relay_connections_cut_total{reason="headers_timeout"} 3')
    expect(metrics).toContain('whatsgate_relay_connections_cut_total{reason="malformed"} 1')
    expect(metrics).not.toContain('whatsgate_relay_connections_cut_total{reason="request_timeout"}')

    const cutLines = () =>
      logLines
        .map((line) => JSON.parse(line))
        .filter((entry) => entry.msg === 'connections cut')
        .map(({ reason, remoteAddress, count }) => ({ reason, remoteAddress, count }))
    expect(cutLines()).toEqual([
      { reason: 'headers_timeout', remoteAddress: '127.0.0.1', count: 1 },
      { reason: 'malformed', remoteAddress: '127.0.0.1', count: 1 },
    ])
    // The other two are summed when the minute is over, or when the relay closes.
    await relay.app.close()
    expect(cutLines().at(-1)).toEqual({ reason: 'headers_timeout', remoteAddress: '127.0.0.1', count: 2 })
  })

  it('a request whose body comes a byte a second is cut off at the request timeout, stores no event, and is kept as the 408 it was answered', async () => {
    const requestTimeoutMs = 3000
    const relay = await listening({
      HEADERS_TIMEOUT_MS: '1000',
      REQUEST_TIMEOUT_MS: String(requestTimeoutMs),
      ADMIN_TOKEN,
    })
    const body = event(1)
    const head =
      `POST /webhook/${TEST_TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\n\r\n`

    const { afterMs, received, sent } = await slowClient(relay.port, head, body)
    expect(sent).toBeGreaterThanOrEqual(3)
    expect(sent).toBeLessThan(body.length)
    expect(received).toMatch(/^HTTP\/1\.1 408 /)
    expect(afterMs).toBeGreaterThanOrEqual(requestTimeoutMs - 50)
    expect(afterMs).toBeLessThan(requestTimeoutMs + CHECK_INTERVAL_MS + SLACK_MS)
    expect(readOutbox(relay.dataDir).events).toEqual([])
    // A refusal like any other: counted under its own reason, and kept with the status sent.
    const metrics = (await relay.admin('/metrics')).body
    expect(metrics).toContain('whatsgate_relay_webhook_refused_total{reason="incomplete"} 1')
    expect(metrics).toContain('whatsgate_relay_connections_cut_total{reason="request_timeout"} 1')
    expect(metrics).not.toContain('whatsgate_relay_connections_cut_total{reason="headers_timeout"}')
    const { refused } = (await relay.admin('/admin/refused')).json()
    expect(refused).toEqual([expect.objectContaining({ reason: 'incomplete', status: 408, body: null })])
  })

  it('an idle kept-alive connection outlives the headers timeout, and is closed at the keep-alive timeout', async () => {
    const keepAliveTimeoutMs = 2500
    const relay = await listening({
      HEADERS_TIMEOUT_MS: '1000',
      KEEP_ALIVE_TIMEOUT_MS: String(keepAliveTimeoutMs),
    })
    const socket = connect(relay.port, '127.0.0.1')
    socket.setEncoding('latin1')
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())))
    const get = 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'

    socket.write(get)
    const [first] = await once(socket, 'data')
    // Idle for longer than the headers timeout: the wait between two requests is not a slow request.
    await sleep(1500)
    socket.write(get)
    const [second] = await once(socket, 'data')
    const lastAnswer = performance.now()
    expect([first, second].map((r: string) => r.split('\r\n')[0])).toEqual([
      'HTTP/1.1 200 OK',
      'HTTP/1.1 200 OK',
    ])
    // Clients are told the timeout; Node closes a second later, so one that reuses the connection
    // at the last moment does not meet a closed socket.
    expect(second).toMatch(/\r\nKeep-Alive: timeout=2\r\n/i)

    const idleMs = (await closed) - lastAnswer
    expect(idleMs).toBeGreaterThanOrEqual(keepAliveTimeoutMs - 50)
    expect(idleMs).toBeLessThan(keepAliveTimeoutMs + KEEP_ALIVE_BUFFER_MS + SLACK_MS)
  })

  it('the documented defaults are what the server runs with: headers 10 s, request 30 s, keep-alive 72 s', async () => {
    const relay = await buildTestApp()
    relays.push(relay)
    const { headersTimeout, requestTimeout, keepAliveTimeout } = relay.app.server
    expect({ headersTimeout, requestTimeout, keepAliveTimeout }).toEqual({
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      keepAliveTimeout: 72_000,
    })
  })

  it('a headers timeout longer than the request timeout stops start-up naming the variable', async () => {
    await expect(buildTestApp({ HEADERS_TIMEOUT_MS: '40000' }, freshDir())).rejects.toThrow(
      /^HEADERS_TIMEOUT_MS: must not exceed REQUEST_TIMEOUT_MS$/,
    )
  })
})
