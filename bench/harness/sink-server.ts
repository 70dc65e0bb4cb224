// The delivery target of the pipeline benchmark, run as a child so that it has its own event loop:
// answers POST /hook with 200 at once and records, per event key (`webhook-id`), when the event
// arrived. The bench reads and resets the record at GET /stats, /dump and /reset?minId=N.
import { createServer } from 'node:http'
import { idFromKey, messageEventBody } from './event.ts'
import { nowMs } from './process.ts'

export interface SinkStats {
  received: number
  /** Late arrivals of an earlier run's events. */
  earlier: number
  duplicates: number
  missingKey: number
  /** Bodies that were not byte for byte the event their key names. */
  alteredBodies: number
}

export interface SinkDump {
  ids: number[]
  arrivalsMs: number[]
}

const run = (minId: number) => ({
  minId,
  stats: { received: 0, earlier: 0, duplicates: 0, missingKey: 0, alteredBodies: 0 } as SinkStats,
  dump: { ids: [], arrivalsMs: [] } as SinkDump,
  seen: new Set<string>(),
})
let current = run(0)

function record(key: string | undefined, body: string, at: number): void {
  const { stats, dump, seen } = current
  const id = key === undefined ? Number.NaN : idFromKey(key)
  if (key === undefined) stats.missingKey++
  else if (seen.has(key)) stats.duplicates++
  else if (id < current.minId) stats.earlier++
  else {
    if (body !== messageEventBody(id, key.slice(0, key.indexOf(':')))) stats.alteredBodies++
    stats.received++
    dump.ids.push(id)
    dump.arrivalsMs.push(at)
  }
  if (key !== undefined) seen.add(key)
}

const server = createServer((request, response) => {
  if (request.url !== '/hook') {
    const url = new URL(request.url ?? '/', 'http://sink')
    if (url.pathname === '/reset') current = run(Number(url.searchParams.get('minId')))
    const answer = url.pathname === '/dump' ? current.dump : current.stats
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer))
    return
  }
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    const at = nowMs()
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': '11' }).end('{"ok":true}')
    const key = request.headers['webhook-id']
    record(typeof key === 'string' ? key : undefined, Buffer.concat(chunks).toString('utf8'), at)
  })
})
// Keep-alive longer than any client's, so a connection is never closed under a request in flight.
server.keepAliveTimeout = 120_000
server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1')
