import type { SinkDump, SinkRequest, SinkStats } from './sink-server.ts'
import { type Child, startChild } from './support.ts'

export interface Sink {
  child: Child
  url: string
  reset: (minId: number) => Promise<void>
  stats: () => Promise<SinkStats>
  dump: () => Promise<SinkDump>
}

export async function startSink(): Promise<Sink> {
  const child = startChild('sink', ['bench/sink-server.ts'], { ipc: true })
  const { proc } = child
  const next = <T extends { type: string }>(type: T['type'], timeoutMs = 15_000) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (message: { type: string }) => {
        if (message.type !== type) return
        done()
        resolve(message as T)
      }
      const onExit = () => {
        done()
        reject(new Error(`sink exited while waiting for "${type}":\n  ${child.logTail().join('\n  ')}`))
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`sink did not answer "${type}" within ${timeoutMs} ms`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        proc.off('message', onMessage)
        proc.off('exit', onExit)
      }
      proc.on('message', onMessage)
      proc.once('exit', onExit)
    })
  const call = <T extends { type: string }>(request: SinkRequest) => {
    const answer = next<T>(request.type)
    proc.send(request)
    return answer
  }
  const { port } = await next<{ type: 'listening'; port: number }>('listening')
  return {
    child,
    url: `http://127.0.0.1:${port}/hook`,
    reset: async (minId) => {
      await call<{ type: 'reset' }>({ type: 'reset', minId })
    },
    stats: () => call<SinkStats>({ type: 'stats' }),
    dump: () => call<SinkDump>({ type: 'dump' }),
  }
}
