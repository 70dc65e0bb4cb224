import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { decodeWebhookSecret, signWebhook } from '../../src/delivery/standard-webhooks.ts'

// Verified only by the standardwebhooks package, never by our own code, so a bug shared by signer
// and checker cannot pass.
const secretA = `whsec_${randomBytes(32).toString('base64')}`
const secretB = `whsec_${randomBytes(32).toString('base64')}`
const body = Buffer.from('{"whatsapp_id":"w1","event_action":"message","id":"ÿ-ü-😀"}')

function headersFor(signature: string, id: string, timestamp: number) {
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature }
}

describe('signWebhook', () => {
  const id = 'w1:message:42'
  const timestamp = Math.floor(Date.now() / 1000)

  it('produces a signature the reference verifier accepts', () => {
    const signature = signWebhook({ secrets: [secretA], id, timestamp, body })
    expect(signature).toMatch(/^v1,[A-Za-z0-9+/]+=*$/)
    expect(() => new Webhook(secretA).verify(body, headersFor(signature, id, timestamp))).not.toThrow()
  })

  it('signs with every secret during a rotation, each verifying alone', () => {
    const signature = signWebhook({ secrets: [secretA, secretB], id, timestamp, body })
    expect(signature.split(' ')).toHaveLength(2)
    for (const secret of [secretA, secretB]) {
      expect(() => new Webhook(secret).verify(body, headersFor(signature, id, timestamp))).not.toThrow()
    }
    const other = `whsec_${randomBytes(32).toString('base64')}`
    expect(() => new Webhook(other).verify(body, headersFor(signature, id, timestamp))).toThrow()
  })

  it('fails verification when body, id or timestamp is changed', () => {
    const signature = signWebhook({ secrets: [secretA], id, timestamp, body })
    const tampered = Buffer.from(body.toString().replace('42', '43').replace('message', 'massage'))
    const verifier = new Webhook(secretA)
    expect(() => verifier.verify(tampered, headersFor(signature, id, timestamp))).toThrow()
    expect(() => verifier.verify(body, headersFor(signature, 'w1:message:43', timestamp))).toThrow()
    expect(() => verifier.verify(body, headersFor(signature, id, timestamp - 1))).toThrow()
  })

  it('rejects a non-integer timestamp and an empty secret list', () => {
    expect(() => signWebhook({ secrets: [secretA], id, timestamp: 1.5, body })).toThrow(/integer/)
    expect(() => signWebhook({ secrets: [], id, timestamp, body })).toThrow(/secret/)
  })
})

describe('decodeWebhookSecret', () => {
  it('decodes the base64 after whsec_', () => {
    expect(decodeWebhookSecret('whsec_AAECAw==')).toEqual(Buffer.from([0, 1, 2, 3]))
  })

  it.each(['AAECAw==', 'whsec_', 'whsec_not base64!', 'whsec_AAECA'])('rejects %j', (secret) => {
    expect(() => decodeWebhookSecret(secret)).toThrow()
  })
})
