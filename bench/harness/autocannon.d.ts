// autocannon ships no types; this declares only the part of its API the benchmarks use.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  export interface Request {
    method?: string
    headers?: Record<string, string>
    body?: string | Buffer
    setupRequest?: (request: Request, context: Record<string, unknown>) => Request | null | undefined
    onResponse?: (status: number, body: string, context: Record<string, unknown>) => void
  }

  export interface Options extends Request {
    url: string
    connections?: number
    duration?: number
    timeout?: number
    requests?: Request[]
  }

  export interface Result {
    duration: number
    errors: number
    non2xx: number
  }

  export default function autocannon(
    options: Options,
    callback: (error: Error | null, result: Result) => void,
  ): EventEmitter
}
