// Many consumers of one stream, against the relay as a real process: a thousand idle ones cost
// the relay a bounded amount of memory (each is a connection, not a buffer of events), and an
// event committed while they wait reaches every one of them.
import { readFileSync } from 'node:fs'
import { type ClientRequest, request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil, wgEvent } from '../support/events.ts'
import { startRelayProcess, stopAllRelayProcesses } from '../support/relay-process.ts'

const TOKEN = 'stream-token-0123456789'
const CONSUMERS = 1000
/** What the relay may grow by with CONSUMERS idle consumers connected: 40 KiB each. */
const BOUND_MB = (CONSUMERS * 40) / 1024

const requests: ClientRequest[] = []
afterEach(async () => {
  for (const open of requests.splice(0)) open.destroy()
  await stopAllRelayProcesses()
})

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m)
  return Number(line?.[1]) / 1024
}

/** A consumer on its own connection; counts the events (`id:` fields) it has read. */
function connect(url: string): { events: () => number } {
  let text = ''
  const open = request(url, { agent: false, headers: { authorization: `Bearer ${TOKEN}` } }, (response) => {
    response.setEncoding('utf8')
    response.on('data', (chunk: string) => {
      text += chunk
    })
  })
  open.on('error', () => {})
  open.end()
  requests.push(open)
  return { events: () => text.match(/^id: /gm)?.length ?? 0 }
}

describe('a thousand consumers of one stream', () => {
  it(`holds at most ${BOUND_MB.toFixed(0)} MB more for ${CONSUMERS} idle consumers, and wakes every one for a new event`, async () => {
    const relay = await startRelayProcess({
      env: { TARGETS: JSON.stringify([{ name: 'bot', type: 'stream', token: TOKEN, events: ['*'] }]) },
    })
    const pid = relay.child.pid as number
    const streamUrl = `${relay.url}/stream/bot`
    const connected = () =>
      relay.stdoutLines.filter((line) => line.includes('stream consumer connected')).length

    // Warm up the code paths and the heap first: a hundred consumers come and go, with an event.
    const warm = Array.from({ length: 100 }, () => connect(streamUrl))
    await waitUntil(() => connected() === 100, 'the warm-up consumers', 20_000)
    await fetch(relay.webhookUrl, { method: 'POST', body: wgEvent({ id: 1 }) })
    await waitUntil(() => warm.every((c) => c.events() === 1), 'the warm-up event', 20_000)
    for (const open of requests.splice(0)) open.destroy()
    await waitUntil(
      () => relay.stdoutLines.filter((line) => line.includes('stream consumer left')).length === 100,
      'the warm-up consumers gone',
      20_000,
    )
    const before = rssMb(pid)

    const consumers = Array.from({ length: CONSUMERS }, () => connect(streamUrl))
    await waitUntil(() => connected() === 100 + CONSUMERS, `${CONSUMERS} consumers connected`, 60_000)
    // Each got the event stored before it connected (its stream starts at position 0).
    await waitUntil(() => consumers.every((c) => c.events() === 1), 'the stored event, to each', 60_000)
    const idle = rssMb(pid)
    expect(idle - before, `RSS ${before.toFixed(1)} MB before, ${idle.toFixed(1)} MB with them`).toBeLessThan(
      BOUND_MB,
    )

    const answer = await fetch(relay.webhookUrl, { method: 'POST', body: wgEvent({ id: 2 }) })
    expect(answer.status).toBe(200)
    await waitUntil(() => consumers.every((c) => c.events() === 2), 'the new event, to each', 60_000)
    console.log(
      `relay RSS: ${before.toFixed(1)} MB, with ${CONSUMERS} idle consumers ${idle.toFixed(1)} MB, after an event to each ${rssMb(pid).toFixed(1)} MB`,
    )
  }, 120_000)
})
