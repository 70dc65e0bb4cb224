// CloudEvents binary mode through the real relay to a real target, read back with the CloudEvents
// SDK: a target that asks gets the ce-* attributes beside the unchanged body; others get none.
import { HTTP } from 'cloudevents'
import { afterEach, describe, expect, it } from 'vitest'
import { createTarget } from '../../src/delivery/targets.ts'
import { wgEvent } from '../support/events.ts'
import { buildTestApp } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function relayWithTwoTargets(sink: Sink) {
  const targets = [
    { name: 'ce', url: `${sink.url}/ce`, events: ['*'], format: 'cloudevents' },
    { name: 'plain', url: `${sink.url}/plain`, events: ['*'] },
  ]
  const relay = await buildTestApp({ TARGETS: JSON.stringify(targets) })
  cleanups.push(() => relay.close())
  await relay.app.ready()
  return relay
}

describe('format: "cloudevents"', () => {
  it('sends the CloudEvents attributes as ce-* headers beside the body as WhatsGate sent it', async () => {
    const sink = await startSink()
    cleanups.push(() => sink.close())
    const relay = await relayWithTwoTargets(sink)
    const body = wgEvent({ id: 7, text: 'привет' })
    const before = Date.now()
    expect((await relay.post(body)).statusCode).toBe(200)
    await sink.waitFor(2)

    const ce = sink.requests.find((r) => r.path === '/ce')
    const plain = sink.requests.find((r) => r.path === '/plain')
    if (!ce || !plain) throw new Error('both targets should have received the event')
    expect(ce.body.toString()).toBe(body)
    const event = HTTP.toEvent({ headers: ce.headers, body: ce.body.toString() })
    if (Array.isArray(event)) throw new Error('one event expected')
    expect(event).toMatchObject({
      specversion: '1.0',
      id: '191b80a9238:message:7',
      source: 'urn:whatsgate:session:191b80a9238',
      type: 'org.whatsgate.message',
      datacontenttype: 'application/json',
    })
    expect(Date.parse(event.time ?? '')).toBeGreaterThanOrEqual(before - 1000)
    // Still a signed Standard Webhooks request, with the same id.
    expect(ce.headers['webhook-id']).toBe(event.id)

    expect(plain.body.toString()).toBe(body)
    expect(Object.keys(plain.headers).filter((name) => name.startsWith('ce-'))).toEqual([])
  })

  it('refuses a target header that would override a CloudEvents attribute, and an unknown format', () => {
    const base = { name: 'ce', url: 'http://127.0.0.1:9/in', events: ['*'] }
    expect(() => createTarget({ ...base, headers: { 'ce-type': 'x' } })).toThrow(/ce-type.*set by the relay/)
    expect(() => createTarget({ ...base, format: 'cloud' })).toThrow(/format/)
  })
})
