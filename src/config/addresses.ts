// Where the relay can be reached, as the operator is told at start and by the CLI: the callback
// URL to give WhatsGate and the dashboard's address.
import { networkInterfaces } from 'node:os'
import type { Config } from './config.ts'

/** PUBLIC_URL, else this machine's address on the port (a LAN address when listening on all). */
export function relayBaseUrl(config: Pick<Config, 'publicUrl' | 'host'>, port: number): string {
  if (config.publicUrl) return config.publicUrl
  const host = ['0.0.0.0', '::', ''].includes(config.host) ? externalAddress() : config.host
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** The callback URL, its token shown whole or as its first four characters. */
export function callbackUrlOf(
  config: Pick<Config, 'publicUrl' | 'host' | 'ingestToken'>,
  port: number,
  whole: boolean,
) {
  const token = whole ? config.ingestToken : `${config.ingestToken.slice(0, 4)}…`
  return `${relayBaseUrl(config, port)}/webhook/${token}`
}

function externalAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    const found = addresses?.find((address) => address.family === 'IPv4' && !address.internal)
    if (found) return found.address
  }
  return 'localhost'
}
