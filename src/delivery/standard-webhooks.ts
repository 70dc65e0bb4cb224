// Standard Webhooks signing (https://www.standardwebhooks.com): the same scheme Svix uses, so a
// target can verify us with any of the published verifiers instead of code we hand them.
import { createHmac } from 'node:crypto'

const SECRET_PREFIX = 'whsec_'
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

export interface SignInput {
  /** Every active secret; several during a rotation, each yields its own signature. */
  secrets: readonly string[]
  /** The `webhook-id` header value (our event key). */
  id: string
  /** The `webhook-timestamp` header value: unix seconds. */
  timestamp: number
  /** The exact bytes sent as the request body. */
  body: Buffer
}

/**
 * Decodes a `whsec_<base64>` secret into its HMAC key. Throws on anything else, so that a typo in
 * the config is caught at start rather than producing signatures no target can check.
 */
export function decodeWebhookSecret(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error(`must start with "${SECRET_PREFIX}"`)
  const encoded = secret.slice(SECRET_PREFIX.length)
  if (!BASE64.test(encoded) || encoded.length % 4 !== 0) {
    throw new Error(`must be "${SECRET_PREFIX}" followed by standard base64`)
  }
  return Buffer.from(encoded, 'base64')
}

/** The `webhook-signature` header value: `v1,<base64>` per secret, space-separated. */
export function signWebhook({ secrets, id, timestamp, body }: SignInput): string {
  if (secrets.length === 0) throw new Error('signWebhook needs at least one secret')
  // A fractional timestamp would be signed one way and sent (stringified) another.
  if (!Number.isSafeInteger(timestamp)) throw new Error(`timestamp must be integer seconds, got ${timestamp}`)
  return secrets
    .map((secret) => {
      const hmac = createHmac('sha256', decodeWebhookSecret(secret))
      // Written in parts so the body is never copied into one big string: it may be binary-unsafe
      // to decode, and the bytes signed must be exactly the bytes sent.
      hmac.update(`${id}.${timestamp}.`)
      hmac.update(body)
      return `v1,${hmac.digest('base64')}`
    })
    .join(' ')
}
