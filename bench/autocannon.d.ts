// autocannon ships no types; this declares only the part of its API the benchmarks use.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  export interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    total: number
    p50: number
    p90: number
    p99: number
  }

  export interface Request {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string | Buffer
    setupRequest?: (request: Request, context: Record<string, unknown>) => Request | null | undefined
    onResponse?: (
      status: number,
      body: string,
      context: Record<string, unknown>,
      headers: Record<string, string | string[]>,
    ) => void
  }

  export interface Options extends Request {
    url: string
    connections?: number
    duration?: number
    amount?: number
    overallRate?: number
    pipelining?: number
    timeout?: number
    requests?: Request[]
  }

  export interface Result {
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    '2xx': number
    requests: Histogram
    latency: Histogram
    statusCodeStats: Record<string, { count: number }>
    start: Date
    finish: Date
  }

  export interface Instance extends EventEmitter {
    stop(): void
  }

  export default function autocannon(
    options: Options,
    callback: (error: Error | null, result: Result) => void,
  ): Instance
}
