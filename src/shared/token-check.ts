// The one way a secret presented to the relay is compared: the ingest token in the webhook path
// and the admin API's bearer token alike.
import { hash, timingSafeEqual } from 'node:crypto'

/** Compares a presented token with the expected one in constant time, whatever their lengths. */
export function createTokenCheck(expected: string): (presented: string | undefined) => boolean {
  const expectedDigest = digest(expected)
  return (presented) => presented !== undefined && timingSafeEqual(digest(presented), expectedDigest)
}

// Equal-length digests, so the comparison takes the same time whatever the presented length.
function digest(value: string): Buffer {
  return hash('sha256', value, 'buffer')
}
