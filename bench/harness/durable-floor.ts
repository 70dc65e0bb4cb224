// The durable floor, a pipeline baseline: the least any relay must do that answers only after a
// durable write. Fastify takes the raw body, appends it to one file, and answers once a group
// fdatasync (shared by every request that arrived while the last one ran) has it on disk; then
// undici posts the body once, byte for byte, in the background. No validation, no index, no
// delivery state, no retries: what the relay does beyond this is what the relay is for.
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { Pool } from 'undici'
import { type BareBody, bareApp, serve } from './bare-app.ts'

const dataDir = process.env.DATA_DIR
if (!dataDir || !process.env.FORWARD_URL) throw new Error('the durable floor needs DATA_DIR and FORWARD_URL')
const forwardUrl = new URL(process.env.FORWARD_URL)
const pool = new Pool(forwardUrl.origin, { connections: Number(process.env.FORWARD_CONNECTIONS ?? 50) })
const file = await open(join(dataDir, 'floor.log'), 'a')

/** Bodies not yet written, and the answers that wait for them to be on disk. */
let pending: { bodies: Buffer[]; done: (() => void)[] } = { bodies: [], done: [] }
let syncing = false

/** Writes and syncs what has gathered, again while more gathered during the sync. */
async function flush(): Promise<void> {
  syncing = true
  try {
    while (pending.bodies.length > 0) {
      const batch = pending
      pending = { bodies: [], done: [] }
      await file.writev(batch.bodies)
      await file.datasync()
      for (const done of batch.done) done()
    }
  } finally {
    syncing = false
  }
}

const NEWLINE = Buffer.from('\n')
function durablyAppended(body: Buffer): Promise<void> {
  return new Promise((resolve) => {
    pending.bodies.push(body, NEWLINE)
    pending.done.push(resolve)
    if (!syncing) void flush()
  })
}

function forward(body: Buffer, webhookId: string): void {
  pool
    .request({
      path: forwardUrl.pathname,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'webhook-id': webhookId },
      body,
    })
    .then(
      ({ body: answer }) => answer.dump(),
      () => undefined,
    )
}

const app = bareApp()

app.post<{ Body: BareBody }>('/webhook/x', async (request) => {
  const { raw, json } = request.body
  await durablyAppended(raw)
  forward(raw, `${json.whatsapp_id}:${json.event_action}:${json.id}`)
  return { result: 'OK', id: json.id }
})

await serve(app, () => Promise.all([app.close(), pool.close()]).then(() => file.close()))
