import { freePort } from '../test/support/free-port.ts'
import { type Child, startChild, waitForHttp } from './support.ts'

export interface Bare {
  child: Child
  url: string
}

/** Starts bare-server.ts: the ingest baseline, or with `forwardUrl` the pipeline's forwarder. */
export async function startBare(options: { forwardUrl?: string; connections?: number } = {}): Promise<Bare> {
  const port = await freePort()
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1' }
  delete env.FORWARD_URL
  if (options.forwardUrl) {
    env.FORWARD_URL = options.forwardUrl
    env.FORWARD_CONNECTIONS = String(options.connections ?? 50)
  }
  const child = startChild(options.forwardUrl ? 'forwarder' : 'bare', ['bench/bare-server.ts'], { env })
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, child)
  return { child, url: `http://127.0.0.1:${port}/webhook/x` }
}
