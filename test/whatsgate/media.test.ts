import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createWhatsGateClient } from '../../src/whatsgate/api-client.ts'
import { WhatsGateUnavailableError } from '../../src/whatsgate/api-errors.ts'
import { fetchMedia, mediaReference, withInlineMedia } from '../../src/whatsgate/media.ts'
import { type FakeWhatsGate, startFakeWhatsGate } from '../support/fake-whatsgate.ts'

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

  it('is null for events without media or not JSON', () => {
    expect(mediaReference(Buffer.from(raw.replace('"hasMedia":true', '"hasMedia":false')))).toBeNull()
    expect(mediaReference(Buffer.from('null'))).toBeNull()
    expect(mediaReference(Buffer.from('{"event_data":'))).toBeNull()
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

  it('throws on an outage or a rejected key, so the caller can retry', async () => {
    fake = await startFakeWhatsGate({ apiKey: API_KEY, media: { [MESSAGE_ID]: media } })
    fake.setDown(true)
    await expect(fetchMedia(client(fake.url), 'w', MESSAGE_ID)).rejects.toThrow(WhatsGateUnavailableError)
    fake.setDown(false)
    fake.failNext('get-messagemedia', 1, 'unauthorized')
    await expect(fetchMedia(client(fake.url), 'w', MESSAGE_ID)).rejects.toThrow(/Unauthorized/)
  })
})
