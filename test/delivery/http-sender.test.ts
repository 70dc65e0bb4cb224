import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createHttpSender, type HttpSender, MAX_EXCERPT_BYTES } from '../../src/delivery/http-sender.ts'
import { type Sink, startSink } from '../support/sink.ts'

const body = Buffer.from('{"whatsapp_id":"w1","event_action":"message","id":"1","text":"привет"}')
let sink: Sink
let sender: HttpSender

beforeEach(async () => {
  sink = await startSink()
  sender = createHttpSender({ userAgent: 'whatsgate-relay/test' })
})

afterEach(async () => {
  await sink.close()
  await sender.close()
})

const post = (overrides: Partial<Parameters<HttpSender['send']>[0]> = {}) =>
  sender.send({ url: `${sink.url}/hooks?token=a`, headers: {}, body, timeoutMs: 5000, ...overrides })

describe('createHttpSender', () => {
  it('posts the body byte for byte with its own and the given headers', async () => {
    const result = await post({ headers: { 'X-Custom': 'yes', 'webhook-id': 'w1:message:1' } })
    expect(result).toMatchObject({ status: 200, error: null, timedOut: false, retryAfter: undefined })
    expect(result.durationMs).toBeGreaterThanOrEqual(0)
    const [request] = sink.requests
    expect(request?.method).toBe('POST')
    expect(request?.path).toBe('/hooks?token=a')
    expect(request?.body.equals(body)).toBe(true)
    expect(request?.headers['content-type']).toBe('application/json')
    expect(request?.headers['user-agent']).toBe('whatsgate-relay/test')
    expect(request?.headers['x-custom']).toBe('yes')
    expect(request?.headers['webhook-id']).toBe('w1:message:1')
  })

  it('keeps its own user-agent and content-type over given ones', async () => {
    await post({ headers: { 'User-Agent': 'evil', 'content-type': 'text/plain' } })
    expect(sink.requests[0]?.headers['user-agent']).toBe('whatsgate-relay/test')
    expect(sink.requests[0]?.headers['content-type']).toBe('application/json')
  })

  it('returns an error status without an error string', async () => {
    sink.respondWith(() => ({ status: 503, body: 'down' }))
    expect(await post()).toMatchObject({ status: 503, error: null })
  })

  it('keeps the response body as text, an empty one as an empty excerpt', async () => {
    sink.respondWith((_, i) => (i === 0 ? { status: 500, body: '{"error":"привет 👋"}' } : { status: 204 }))
    expect(await post()).toMatchObject({ status: 500, responseExcerpt: '{"error":"привет 👋"}' })
    // A 204 has no body, whatever the handler gives: node:http drops it.
    expect(await post()).toMatchObject({ status: 204, responseExcerpt: '' })
  })

  it('cuts the excerpt at 1 KiB, on a UTF-8 character boundary', async () => {
    // 3-byte characters: the 342nd would end at byte 1026, so 341 of them (1023 bytes) are kept.
    sink.respondWith((_, i) => ({ body: i === 0 ? '€'.repeat(400) : `${'a'.repeat(1000)}${'€'.repeat(50)}` }))
    const euros = (await post()).responseExcerpt ?? ''
    expect(euros).toBe('€'.repeat(341))
    expect(Buffer.byteLength(euros)).toBe(1023)
    // Exactly at the cap: 1000 + 8 * 3 = 1024 bytes, nothing held back.
    const mixed = (await post()).responseExcerpt ?? ''
    expect(mixed).toBe(`${'a'.repeat(1000)}${'€'.repeat(8)}`)
    expect(Buffer.byteLength(mixed)).toBe(MAX_EXCERPT_BYTES)
  })

  it('shows bytes that are not text, and NUL, as U+FFFD', async () => {
    const binary = Buffer.from([0x7b, 0xff, 0x00, 0x7d])
    const server = createServer((_, res) => res.end(binary))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
      const result = await sender.send({ url, headers: {}, body, timeoutMs: 5000 })
      expect(result).toMatchObject({ status: 200, responseExcerpt: '{\uFFFD\uFFFD}' })
    } finally {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('reads a body within the cap to its end, so the connection is reused', async () => {
    sink.respondWith(() => ({ status: 500, body: 'e'.repeat(20 * 1024) }))
    for (let i = 0; i < 5; i += 1) {
      expect(await post()).toMatchObject({ status: 500, error: null, responseExcerpt: 'e'.repeat(1024) })
    }
    expect(sink.connections).toBeLessThanOrEqual(2)
  })

  it('passes Retry-After through', async () => {
    sink.respondWith(() => ({ status: 429, headers: { 'retry-after': '120' } }))
    expect(await post()).toMatchObject({ status: 429, retryAfter: '120', error: null })
  })

  it('gives up on a stalled target at the deadline', async () => {
    sink.respondWith(() => ({ stall: true }))
    const result = await post({ timeoutMs: 300 })
    expect(result).toMatchObject({
      status: null,
      error: 'timeout after 300 ms',
      timedOut: true,
      responseExcerpt: null,
    })
    expect(result.durationMs).toBeGreaterThanOrEqual(250)
    expect(result.durationMs).toBeLessThan(1500)
  })

  it('reports a refused connection by its code', async () => {
    const closed = await startSink()
    const url = `${closed.url}/gone`
    await closed.close()
    const result = await sender.send({ url, headers: {}, body, timeoutMs: 5000 })
    expect(result).toMatchObject({
      status: null,
      error: 'ECONNREFUSED',
      timedOut: false,
      retryAfter: undefined,
      responseExcerpt: null,
    })
  })

  it('turns an invalid request into an error, not a throw', async () => {
    const result = await post({ url: 'not a url' })
    expect(result.status).toBeNull()
    expect(result.error).toMatch(/URL/)
  })

  it('reuses keep-alive connections for sequential sends', async () => {
    for (let i = 0; i < 20; i += 1) expect((await post()).status).toBe(200)
    expect(sink.requests).toHaveLength(20)
    // undici's pool may open a second socket when a send follows the previous response within the
    // same tick, before the first socket is marked free; without keep-alive this would be 20.
    expect(sink.connections).toBeLessThanOrEqual(2)
  })

  it('drops a connection whose response is larger than the cap instead of reading it', async () => {
    sink.respondWith(() => ({ body: 'x'.repeat(8 * 1024 * 1024) }))
    for (let i = 0; i < 5; i += 1) {
      expect(await post()).toMatchObject({ status: 200, error: null, responseExcerpt: 'x'.repeat(1024) })
    }
    // a socket is destroyed after its capped response, so no socket served two of them
    // (uncapped, keep-alive would serve all five on at most two)
    expect(sink.connections).toBe(5)
  })

  describe('against an endless response body', () => {
    let endless: Server
    let url: string

    beforeEach(async () => {
      endless = createServer((_, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' })
        const chunk = Buffer.alloc(16 * 1024, 'y')
        const pump = () => {
          while (!res.destroyed && res.write(chunk)) {}
        }
        res.on('drain', pump)
        pump()
      })
      await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve))
      url = `http://127.0.0.1:${(endless.address() as AddressInfo).port}/`
    })

    afterEach(async () => {
      endless.closeAllConnections()
      await new Promise((resolve) => endless.close(resolve))
    })

    it('stops reading at the cap and returns long before the deadline', async () => {
      const capped = createHttpSender({ userAgent: 't', maxResponseBytes: 1024 })
      try {
        const result = await capped.send({ url, headers: {}, body, timeoutMs: 3000 })
        expect(result).toMatchObject({ status: 200, error: null, responseExcerpt: 'y'.repeat(1024) })
        expect(result.durationMs).toBeLessThan(1000)
      } finally {
        await capped.close()
      }
    })
  })

  it('reports a timeout while the body trickles in, keeping the status', async () => {
    const slow = createServer((_, res) => {
      res.writeHead(200)
      res.write('{')
      // never ends
    })
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/`
      const result = await sender.send({ url, headers: {}, body, timeoutMs: 300 })
      expect(result).toMatchObject({
        status: 200,
        error: 'timeout after 300 ms',
        timedOut: true,
        responseExcerpt: '{',
      })
      expect(result.durationMs).toBeLessThan(1500)
    } finally {
      slow.closeAllConnections()
      await new Promise((resolve) => slow.close(resolve))
    }
  })
})

// The sink is shared by the dispatcher, benchmark and crash tests; its own promises are checked here.
describe('startSink', () => {
  it('answers 200 {"ok":true} by default and numbers requests for the handler', async () => {
    const seen: number[] = []
    const own = await startSink({
      respondWith: (_, index) => {
        seen.push(index)
        return index === 0 ? {} : { status: 202, body: 'later' }
      },
    })
    try {
      const first = await fetch(own.url, { method: 'POST', body: 'a' })
      expect([first.status, await first.text()]).toEqual([200, '{"ok":true}'])
      const second = await fetch(`${own.url}/p`, { method: 'PUT', body: 'b' })
      expect([second.status, await second.text()]).toEqual([202, 'later'])
      expect(seen).toEqual([0, 1])
      expect(own.requests.map((r) => [r.method, r.path, r.body.toString()])).toEqual([
        ['POST', '/', 'a'],
        ['PUT', '/p', 'b'],
      ])
    } finally {
      await own.close()
    }
  })

  it('waits for a request count and fails clearly when it does not come', async () => {
    const waiting = sink.waitFor(2, 2000)
    await post()
    await post()
    await waiting
    await expect(sink.waitFor(3, 50)).rejects.toThrow('sink: waited 50 ms for 3 requests, got 2')
  })

  it('delays a reply by delayMs', async () => {
    sink.respondWith(() => ({ delayMs: 200 }))
    const result = await post()
    expect(result.status).toBe(200)
    expect(result.durationMs).toBeGreaterThanOrEqual(190)
  })

  it('answers 500 when the handler throws', async () => {
    sink.respondWith(() => {
      throw new Error('boom')
    })
    expect((await post()).status).toBe(500)
  })

  it('closes promptly while a request stalls, cutting it off', async () => {
    sink.respondWith(() => ({ stall: true }))
    const pending = post({ timeoutMs: 10_000 })
    await sink.waitFor(1)
    const started = Date.now()
    await sink.close()
    expect(Date.now() - started).toBeLessThan(500)
    const result = await pending
    expect(result.status).toBeNull()
    expect(result.error).not.toMatch(/^timeout/)
    expect(result.timedOut).toBe(false)
  })
})
