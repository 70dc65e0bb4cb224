import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { MediaFetchError } from '../../src/delivery/prepare-body.ts'
import { createTarget } from '../../src/delivery/targets.ts'
import { createWhatsGateClient } from '../../src/whatsgate/api-client.ts'
import { WhatsGateUnavailableError } from '../../src/whatsgate/api-errors.ts'
import { fetchMedia, inlineMediaBody, mediaReference, withInlineMedia } from '../../src/whatsgate/media.ts'
import { captureLogger, type FakeWhatsGate, startFakeWhatsGate } from '../support/fake-whatsgate.ts'

const API_KEY = 'media-key'
const MESSAGE_ID = 'false_79999999999@c.us_17AC61BFA5A561B7EE42F98810EDFFC4'
const media = {
  mimetype: 'image/jpeg',
  filename: 'image.jpg',
  data: Buffer.from([0xff, 0xd8, 0xff]).toString('base64'),
}

const raw = `{"id":18,"whatsapp_id":"191b80a9238","event_action":"message","event_date":"2022-09-07 18:29:37",
 "status_code":null,"event_data":{"message":{"_id":"17AC61BFA5A561B7EE42F98810EDFFC4","id":"${MESSAGE_ID}",
 "ack":1,"hasMedia":true,"mediaKey":"k","body":"","type":"image","timestamp":1662575377,
 "from":"79991112233@c.us","to":"79999999999@c.us","isForwarded":false,"extra":{"kept":[1,2]}}},"unknown":"kept"}`

let fake: FakeWhatsGate | undefined
afterEach(async () => {
  await fake?.close()
  fake = undefined
})

describe('withInlineMedia', () => {
  it('sets event_data.message.media and keeps every other field', () => {
    const body = Buffer.from(raw)
    const out = withInlineMedia(body, media)

    const original = JSON.parse(raw)
    const parsed = JSON.parse(out.toString('utf8'))
    expect(parsed.event_data.message.media).toEqual(media)
    delete parsed.event_data.message.media
    expect(parsed).toEqual(original)
    expect(body.toString('utf8')).toBe(raw)
  })

  it('refuses an event without a message', () => {
    const ready = Buffer.from(
      '{"id":19,"whatsapp_id":"w","event_action":"ready","event_data":{"pushname":"v"}}',
    )
    expect(() => withInlineMedia(ready, media)).toThrow(/no event_data.message/)
  })
})

describe('mediaReference', () => {
  it('names the message whose media can be fetched', () => {
    expect(mediaReference(Buffer.from(raw))).toEqual({ whatsappId: '191b80a9238', messageId: MESSAGE_ID })
  })

  it('reads a body that starts with a byte-order mark, as ingest takes it', () => {
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(raw)])
    expect(mediaReference(withBom)).toEqual({ whatsappId: '191b80a9238', messageId: MESSAGE_ID })
  })

  it('is null for events without media or not JSON', () => {
    expect(mediaReference(Buffer.from(raw.replace('"hasMedia":true', '"hasMedia":false')))).toBeNull()
    expect(mediaReference(Buffer.from('null'))).toBeNull()
    expect(mediaReference(Buffer.from('{"event_data":'))).toBeNull()
  })

  it('is null for actions other than message, though ack and sent carry the message with hasMedia', () => {
    for (const action of ['ack', 'sent', 'create', 'media']) {
      expect(
        mediaReference(Buffer.from(raw.replace('"event_action":"message"', `"event_action":"${action}"`))),
      ).toBeNull()
    }
  })
})

describe('fetchMedia', () => {
  const client = (url: string) =>
    createWhatsGateClient({ baseUrl: url, apiKey: API_KEY, log: pino({ level: 'silent' }), retries: 0 })

  it('fetches the media of a message, and null when WhatsGate has none', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY, media: { [MESSAGE_ID]: media } })
    expect(await fetchMedia(client(fake.url), '191b80a9238', MESSAGE_ID)).toEqual(media)
    expect(fake.calls[0]?.body).toEqual({ WhatsappID: '191b80a9238', MessageID: MESSAGE_ID })
    expect(await fetchMedia(client(fake.url), '191b80a9238', 'false_1@c.us_NONE')).toBeNull()
  })

  it('throws a MediaFetchError on an outage or a rejected key, so the delivery is retried', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY, media: { [MESSAGE_ID]: media } })
    fake.setDown(true)
    const outage = await fetchMedia(client(fake.url), 'w', MESSAGE_ID).catch((err: unknown) => err)
    expect(outage).toBeInstanceOf(MediaFetchError)
    expect((outage as Error).message).toMatch(/^media: get-messagemedia failed: WhatsGate unavailable/)
    expect((outage as Error).cause).toBeInstanceOf(WhatsGateUnavailableError)
    fake.setDown(false)
    fake.failNext('get-messagemedia', 1, 'unauthorized')
    await expect(fetchMedia(client(fake.url), 'w', MESSAGE_ID)).rejects.toThrow(/^media: .*Unauthorized/)
  })

  it('treats only the unknown-message answer as "no media"; any other error answer is a failure', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY, media: { [MESSAGE_ID]: media } })
    const failures = [
      { name: 'Bad Request', message: 'Service is busy', code: 0 },
      { name: 'Forbidden', message: 'Your plan does not include media', code: 403 },
    ]
    for (const failure of failures) {
      fake.failNext('get-messagemedia', 1, failure)
      await expect(fetchMedia(client(fake.url), 'w', MESSAGE_ID)).rejects.toThrow(MediaFetchError)
    }
    // HTTP 200 without a media object is not WhatsGate's documented "no media" error either.
    fake.failNext('get-messagemedia', 1, 'result')
    await expect(fetchMedia(client(fake.url), 'w', MESSAGE_ID)).rejects.toThrow(MediaFetchError)
    expect(await fetchMedia(client(fake.url), 'w', 'false_1@c.us_UNKNOWN')).toBeNull()
  })

  it('a wrong API URL (a 404 page) is a failure, not "no media"', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY, media: { [MESSAGE_ID]: media } })
    const wrong = client(fake.url.replace('/api/v1', '/v2'))
    await expect(fetchMedia(wrong, 'w', MESSAGE_ID)).rejects.toThrow(/^media: .*Not Found/)
  })

  it('stops at the signal, even while the client would still wait for its own timeout', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY, media: { [MESSAGE_ID]: media } })
    fake.failNext('get-messagemedia', 1, 'hang')
    const started = Date.now()
    await expect(
      fetchMedia(client(fake.url), 'w', MESSAGE_ID, { signal: AbortSignal.timeout(100) }),
    ).rejects.toThrow(/^media: timed out$/)
    expect(Date.now() - started).toBeLessThan(5000)
  })
})

describe('inlineMediaBody', () => {
  const inline = createTarget({ name: 'inline', url: 'http://127.0.0.1:1/', events: ['*'], media: 'inline' })
  const plain = createTarget({ name: 'plain', url: 'http://127.0.0.1:1/', events: ['*'] })
  const delivery = { body: Buffer.from(raw), eventKey: '191b80a9238:message:18' }
  const deps = (url: string, log = pino({ level: 'silent' })) => ({
    client: createWhatsGateClient({ baseUrl: url, apiKey: API_KEY, log, retries: 0 }),
    log,
  })

  it('inlines the media for an inline target and keeps the stored bytes for the others', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY, media: { [MESSAGE_ID]: media } })
    const body = await inlineMediaBody(deps(fake.url), inline, delivery)
    expect(JSON.parse(body.toString()).event_data.message.media).toEqual(media)
    expect(await inlineMediaBody(deps(fake.url), plain, delivery)).toBe(delivery.body)
    expect(fake.callsOf('get-messagemedia')).toHaveLength(1)
  })

  it('logs "no media" at info with the event key, not the message', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY })
    const { log, entries } = captureLogger('info')
    expect(await inlineMediaBody(deps(fake.url, log), inline, delivery)).toBe(delivery.body)
    const line = entries().find((e) => e.event === delivery.eventKey)
    expect(line).toMatchObject({ level: 30, target: 'inline' })
    const logged = JSON.stringify(entries())
    expect(logged).not.toContain(MESSAGE_ID)
    expect(logged).not.toContain('79991112233')
  })

  it('passes the signal to the call', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY, media: { [MESSAGE_ID]: media } })
    fake.failNext('get-messagemedia', 1, 'hang')
    const deadline = new AbortController()
    setTimeout(() => deadline.abort(new MediaFetchError('timed out after 100 ms')), 100)
    await expect(inlineMediaBody(deps(fake.url), inline, delivery, deadline.signal)).rejects.toThrow(
      'media: timed out after 100 ms',
    )
  })
})
