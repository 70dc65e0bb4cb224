// Runs the relay as a process: start, announce, and shut down cleanly on SIGTERM/SIGINT.
import { rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { buildApp } from './app.ts'
import { callbackUrlOf, relayBaseUrl } from './config/addresses.ts'
import { ConfigError } from './config/config.ts'
import { loadEnvFile } from './config/env-file.ts'
import { INGEST_TOKEN, keptSecretPath } from './config/kept-secrets.ts'

// What this process creates is readable by the relay's user only: DATA_DIR holds message bodies.
// The umask is the only say there is over the SQLite file and its -wal and -shm: SQLite makes them
// 0644 less the umask, and node:sqlite takes no mode.
process.umask(0o077)

let app: Awaited<ReturnType<typeof buildApp>>
try {
  const envFile = loadEnvFile(process.env)
  app = await buildApp({ env: process.env, envFile })
} catch (error) {
  // One line, no stack: the operator needs the variable (or the store) and the problem.
  const reason = error instanceof ConfigError ? 'invalid configuration' : 'could not start'
  process.stderr.write(`whatsgate-relay: ${reason}: ${(error as Error).message}\n`)
  process.exit(1)
}
const config = app.relayConfig

let stopping = false
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, async () => {
    if (stopping) return
    stopping = true
    app.log.info({ signal }, 'shutting down')
    // Sends get SHUTDOWN_TIMEOUT_MS; past that and a margin, something hangs: leave anyway,
    // since everything acknowledged is already on disk.
    setTimeout(() => {
      app.log.error('shutdown took too long; exiting')
      process.exit(1)
    }, config.shutdownTimeoutMs + 5000).unref()
    try {
      // Stops accepting, lets requests in flight finish, then stops the relay (store last).
      await app.close()
      process.exit(0)
    } catch (error) {
      app.log.error({ err: error }, 'shutdown failed')
      process.exit(1)
    }
  })
}

try {
  await app.listen({ port: config.port, host: config.host })
} catch (error) {
  // Nothing was acknowledged yet, so there is nothing to wind down: leave with one line. A token
  // made by this start was never announced: it goes, and the start that listens makes and logs one.
  if (config.ingestTokenGenerated) rmSync(keptSecretPath(config.dataDir, INGEST_TOKEN), { force: true })
  process.stderr.write(
    `whatsgate-relay: could not listen on HOST=${config.host} PORT=${config.port}: ${listenProblem(error)}\n`,
  )
  process.exit(1)
}
// At every start, what the operator needs: the callback URL for WhatsGate (the token shown whole
// only by the start that made it: the line that hands it over), and the dashboard's address.
const port = (app.server.address() as AddressInfo).port
if (config.ingestTokenGenerated) {
  app.log.info(`generated an ingest token; WhatsGate callback URL: ${callbackUrlOf(config, port, true)}`)
} else {
  app.log.info(
    `WhatsGate callback URL: ${callbackUrlOf(config, port, false)} (npx whatsgate-relay callback-url prints it whole)`,
  )
}
if (config.adminToken !== null) {
  const made = config.adminTokenGenerated
    ? `generated an admin token (in ${config.dataDir}/admin-token); `
    : ''
  app.log.info(
    `${made}dashboard: ${relayBaseUrl(config, port)}/admin/ (npx whatsgate-relay admin-url prints a one-time sign-in link)`,
  )
}

function listenProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  const reasons: Record<string, string> = {
    EADDRINUSE: 'the port is already in use',
    EADDRNOTAVAIL: 'HOST is not an address of this machine',
    EACCES: 'permission denied (ports below 1024 need privileges)',
    ENOTFOUND: 'HOST does not resolve to an address',
    EAI_AGAIN: 'HOST could not be resolved (DNS unavailable)',
  }
  const reason = code === undefined ? undefined : reasons[code]
  if (reason) return `${reason} (${code})`
  const message = String((error as Error | undefined)?.message ?? error)
  return message.split('\n', 1)[0] ?? message
}
