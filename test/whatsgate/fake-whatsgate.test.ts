// The fake is what every WhatsGate test trusts, so its api.md behaviour is pinned here.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createWhatsGateClient } from '../../src/whatsgate/api-client.ts'
import { createRegistrar } from '../../src/whatsgate/registrar.ts'
import { type FakeWhatsGate, startFakeWhatsGate, UNAUTHORIZED } from '../support/fake-whatsgate.ts'

let fake: FakeWhatsGate
const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn()
  await fake?.close()
})

const post = async (command: string, body: unknown, headers: Record<string, string>) => {
  const res = await fetch(`${fake.url}/${command}`, { method: 'POST', headers, body: JSON.stringify(body) })
  return { status: res.status, body: await res.json() }
}
const json = { 'content-type': 'application/json', 'x-api-key': 'k' }

describe('fake WhatsGate', () => {
  it('answers a wrong key with the documented Unauthorized error', async () => {
    fake = await startFakeWhatsGate({ apiKey: 'k' })
    expect(await post('sessions-get', {}, { ...json, 'x-api-key': 'nope' })).toEqual({
      status: 500,
      body: UNAUTHORIZED,
    })
    expect(UNAUTHORIZED).toEqual({
      name: 'Unauthorized',
      message: 'Your request was made with invalid credentials.',
      code: 0,
    })
  })

  it('insists on a JSON content type', async () => {
    fake = await startFakeWhatsGate({ apiKey: 'k' })
    const answer = await post('sessions-get', {}, { 'x-api-key': 'k', 'content-type': 'text/plain' })
    expect(answer.status).toBe(500)
    expect(answer.body.name).toBe('Bad Request')
  })

  it('pages events-get oldest first, filtered by session, date and action', async () => {
    const e = (id: number, wa: string, action: string, date: string) => ({
      id,
      whatsapp_id: wa,
      event_action: action,
      event_date: date,
    })
    fake = await startFakeWhatsGate({
      apiKey: 'k',
      events: [
        e(3, 'a', 'message', '2024-01-03 00:00:00'),
        e(1, 'a', 'message', '2024-01-01 00:00:00'),
        e(2, 'a', 'ack', '2024-01-02 00:00:00'),
        e(4, 'b', 'message', '2024-01-02 00:00:00'),
        e(5, 'a', 'message', '2024-01-02 00:00:00'),
      ],
    })
    const page = await post('events-get', { WhatsappID: 'a', action: 'message', page_cnt: 1, page: 2 }, json)
    expect(page.body).toEqual({ result: 'OK', pages: 3, elements: 3, page: 2, data: [fake.events[4]] })
    const since = await post('events-get', { WhatsappID: 'a', date: '2024-01-02 00:00:00' }, json)
    expect(since.body.data.map((x: { id: number }) => x.id)).toEqual([2, 5, 3])
    const capped = await post('events-get', { page_cnt: 1000 }, json)
    expect(capped.body).toMatchObject({ pages: 1, elements: 5 })
  })

  it('delivers an event to the callback a registrar set, as WhatsGate would', async () => {
    const received: unknown[] = []
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const event = JSON.parse(Buffer.concat(chunks).toString()) as { id: number }
        received.push({ path: req.url, event })
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ result: 'OK', id: event.id }))
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    cleanup.push(() => new Promise((resolve) => receiver.close(() => resolve())))
    const callback = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhook/tok`

    fake = await startFakeWhatsGate({ apiKey: 'k', sessions: [{ unique_id: '191b80a9238' }] })
    const log = pino({ level: 'silent' })
    const client = createWhatsGateClient({ baseUrl: fake.url, apiKey: 'k', log })
    const registrar = createRegistrar({ client, callbackUrl: callback, whatsappIds: [], log })
    registrar.start()
    cleanup.push(() => registrar.stop())
    await expect.poll(() => registrar.status().state).toBe('done')
    expect(fake.hooks.get('191b80a9238')).toBe(callback)

    const event = { id: 18, whatsapp_id: '191b80a9238', event_action: 'message', event_data: {} }
    expect(await fake.deliver(event)).toEqual({ status: 200, body: { result: 'OK', id: 18 } })
    expect(received).toEqual([{ path: '/webhook/tok', event }])
  })
})
