// The delivery target of the pipeline benchmark, run as a child so that it has its own event loop:
// answers 200 at once and records, per event key (`webhook-id`), when the event arrived. The
// parent talks to it over IPC: reset, stats, dump.
import { createServer } from 'node:http'
import { nowMs } from './support.ts'
import { idFromKey, messageEventBody } from './whatsgate-event.ts'

/** reset starts a run: events with an id below `minId` belong to an earlier run and are only counted. */
export type SinkRequest = { type: 'reset'; minId: number } | { type: 'stats' } | { type: 'dump' }

export interface SinkStats {
  type: 'stats'
  received: number
  /** Late arrivals of an earlier run's events. */
  earlier: number
  duplicates: number
  missingKey: number
  /** Bodies that were not byte for byte the event their key names. */
  alteredBodies: number
  lastArrivalMs: number
}

export interface SinkDump {
  type: 'dump'
  ids: Float64Array
  arrivalsMs: Float64Array
}

let minId = 0
let earlier = 0
let ids: number[] = []
let arrivals: number[] = []
let seen = new Set<string>()
let duplicates = 0
let missingKey = 0
let alteredBodies = 0

const server = createServer((request, response) => {
  const key = request.headers['webhook-id']
  const chunks: Buffer[] = []
  request.on('data', (chunk: Buffer) => chunks.push(chunk))
  request.on('end', () => {
    const at = nowMs()
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': '11' }).end('{"ok":true}')
    if (typeof key !== 'string') {
      missingKey++
      return
    }
    if (seen.has(key)) {
      duplicates++
      return
    }
    seen.add(key)
    const id = idFromKey(key)
    if (id < minId) {
      earlier++
      return
    }
    if (Buffer.concat(chunks).toString('utf8') !== messageEventBody(id, key.slice(0, key.indexOf(':')))) {
      alteredBodies++
    }
    ids.push(id)
    arrivals.push(at)
  })
})
// Keep-alive longer than any client's, so a connection is never closed under a request in flight.
server.keepAliveTimeout = 120_000

function reply(message: SinkStats | SinkDump | { type: 'reset' } | { type: 'listening'; port: number }) {
  process.send?.(message)
}

process.on('message', (message: SinkRequest) => {
  if (message.type === 'reset') {
    minId = message.minId
    earlier = 0
    ids = []
    arrivals = []
    seen = new Set()
    duplicates = 0
    missingKey = 0
    alteredBodies = 0
    reply({ type: 'reset' })
  } else if (message.type === 'stats') {
    reply({
      type: 'stats',
      received: ids.length,
      earlier,
      duplicates,
      missingKey,
      alteredBodies,
      lastArrivalMs: arrivals.at(-1) ?? Number.NaN,
    })
  } else if (message.type === 'dump') {
    reply({ type: 'dump', ids: Float64Array.from(ids), arrivalsMs: Float64Array.from(arrivals) })
  }
})
// The parent is gone (crashed or killed): nothing will ever ask again.
process.on('disconnect', () => process.exit(0))

server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  reply({ type: 'listening', port: typeof address === 'object' && address ? address.port : 0 })
})
