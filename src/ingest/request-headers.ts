// The headers a webhook request came with, as the operator may see them: in order, repeated ones
// joined, credentials redacted. Kept with each event and with each refused request.
const SECRET_HEADER = /auth|cookie|token|secret|key|signature|password/i

/** From rawHeaders (before the route set any aside), lower-cased names. */
export function headersAsReceived(rawHeaders: readonly string[]): Record<string, string> {
  // Without a prototype: a header named `constructor` or `__proto__` is then a header like any other.
  const headers: Record<string, string> = Object.create(null)
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase()
    const value = SECRET_HEADER.test(name) ? '[redacted]' : (rawHeaders[i + 1] as string)
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value
  }
  return headers
}
