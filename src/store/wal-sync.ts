// Durable commits on SQLite without stopping the event loop. Transactions commit with
// synchronous=NORMAL, which writes the WAL without an fsync; a commit that must be durable then
// waits for an fdatasync of the WAL file, which libuv runs on its thread pool. That is the sync
// synchronous=FULL makes inside every commit, moved off the loop: the loop serves requests and
// runs the next transactions meanwhile. Checkpoints stay safe as NORMAL makes them: the WAL is
// synced before its frames are copied and the database file after, so a committed frame is on
// disk in one of the two. Callers arriving while a sync runs share the next one.
import { type FileHandle, open } from 'node:fs/promises'

export interface WalSync {
  /** Resolves once everything committed before the call is on disk. */
  sync(): Promise<void>
  close(): Promise<void>
}

export function createWalSync(walPath: string): WalSync {
  let file: Promise<FileHandle> | null = null
  let running: Promise<void> | null = null
  let next: Promise<void> | null = null

  function syncNow(): Promise<void> {
    // The WAL file exists while the database is open in WAL mode; it is opened once and kept.
    file ??= open(walPath, 'r')
    const opened = file
    const syncing = opened.then((handle) => handle.datasync())
    running = syncing.then(
      () => {
        running = null
      },
      (error: unknown) => {
        running = null
        file = null
        void opened.then((handle) => handle.close()).catch(() => undefined)
        throw error
      },
    )
    return running
  }

  return {
    sync() {
      if (!running) return syncNow()
      // The sync in flight may have started before the caller's commit: it needs the next one.
      next ??= running
        .catch(() => undefined)
        .then(() => {
          next = null
          return syncNow()
        })
      return next
    },
    async close() {
      await Promise.allSettled([running, next])
      const opened = file
      file = null
      if (opened) await (await opened).close()
    },
  }
}
