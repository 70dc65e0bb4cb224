// Requests no HTTP client will send: headers named like Object members, a client that stops in the
// middle of its headers or its body. Plain sockets to 127.0.0.1.
import { connect } from 'node:net'

/**
 * Writes `text` and resolves with everything the server sent until it closed the connection (an
 * unfinished request: until the server cut it off).
 */
export function rawExchange(port: number, text: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no close within ${timeoutMs} ms`)))
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
    socket.write(text)
  })
}

/** The status code of the first response in `raw`, or null when none came. */
export function statusOf(raw: string): number | null {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(raw)
  return match ? Number(match[1]) : null
}
