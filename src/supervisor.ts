// The relay's background loops (dispatcher, retention, WhatsGate registration and backfill) share
// one shape and one owner: started in order, stopped in reverse, so a loop never outlives what it
// uses (the dispatcher stops after what feeds it, the store closes after all of them).
import type { Logger } from 'pino'

export interface BackgroundLoop {
  /** For logs. */
  readonly name: string
  /** Starts the loop; resolves once it runs (a loop may need a read before ingest opens). */
  start(): void | Promise<void>
  /** Takes no new work and waits for work in flight, at most until `deadline` (epoch ms). */
  stop(deadline: number): Promise<void>
}

export interface Supervisor {
  start(): Promise<void>
  stop(deadline: number): Promise<void>
}

export function createSupervisor(loops: readonly BackgroundLoop[], log: Logger): Supervisor {
  let started: BackgroundLoop[] = []
  return {
    async start() {
      for (const loop of loops) {
        await loop.start()
        started.push(loop)
        log.debug({ loop: loop.name }, 'background loop started')
      }
    },
    async stop(deadline) {
      const running = started.reverse()
      started = []
      for (const loop of running) {
        await loop.stop(deadline)
        log.debug({ loop: loop.name }, 'background loop stopped')
      }
    },
  }
}
