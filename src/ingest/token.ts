import { createHash, timingSafeEqual } from 'node:crypto'

/** Compares a presented token with the expected one in constant time, whatever their lengths. */
export function createTokenCheck(expected: string): (presented: string | undefined) => boolean {
  const expectedDigest = digest(expected)
  return (presented) => presented !== undefined && timingSafeEqual(digest(presented), expectedDigest)
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}
