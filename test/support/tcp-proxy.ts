// A TCP proxy on 127.0.0.1, to cut a client off its server (a database outage) and bring it back.
import { createConnection, createServer, type Server, type Socket } from 'node:net'

export interface Proxy {
  readonly port: number
  /** Listens again, on the same port. */
  start(): Promise<void>
  /** Stops listening and cuts every connection. */
  stop(): Promise<void>
}

/** A TCP proxy on 127.0.0.1 to host:port, to cut a store off its database and bring it back. */
export async function startProxy(host: string, port: number): Promise<Proxy> {
  const sockets = new Set<Socket>()
  let server: Server | null = null
  let listenPort = 0
  const track = (socket: Socket, peer: () => Socket) => {
    sockets.add(socket)
    socket.on('error', () => peer().destroy())
    socket.on('close', () => {
      sockets.delete(socket)
      peer().destroy()
    })
  }
  const start = async () => {
    const listening = createServer((client) => {
      const upstream = createConnection({ host, port })
      track(client, () => upstream)
      track(upstream, () => client)
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve, reject) => {
      listening.once('error', reject)
      listening.listen(listenPort, '127.0.0.1', () => resolve())
    })
    const address = listening.address()
    listenPort = typeof address === 'object' && address !== null ? address.port : 0
    server = listening
  }
  await start()
  return {
    get port() {
      return listenPort
    },
    start,
    async stop() {
      const listening = server
      server = null
      if (!listening) return
      const closed = new Promise<void>((resolve) => listening.close(() => resolve()))
      for (const socket of sockets) socket.destroy()
      await closed
    },
  }
}
