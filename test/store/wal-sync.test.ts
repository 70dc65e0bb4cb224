// The WAL sync of the SQLite store: a sync asked for while one runs is answered by a later one
// (the running sync may predate the caller's commit), a failed sync is reported and the next one
// starts afresh. That SQLite's own commits no longer sync was checked with strace: each durable
// batch is one fdatasync of the -wal file, on a thread-pool thread.
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createWalSync, type WalSync } from '../../src/store/wal-sync.ts'
import { tempDir } from '../support/relay.ts'

let dir: string
let wal: WalSync | undefined
afterEach(async () => {
  await wal?.close()
  wal = undefined
  rmSync(dir, { recursive: true, force: true })
})

describe('WAL sync', () => {
  it('answers a call made during a sync with the next sync, and calls made together with one', async () => {
    dir = tempDir('wal-sync-')
    const file = join(dir, 'relay.sqlite-wal')
    writeFileSync(file, 'frames')
    wal = createWalSync(file)
    const order: string[] = []
    const first = wal.sync().then(() => order.push('first'))
    const during = [wal.sync(), wal.sync(), wal.sync()]
    expect(during[1]).toBe(during[0])
    expect(during[2]).toBe(during[0])
    await Promise.all([first, ...during.map((p) => p.then(() => order.push('during')))])
    expect(order).toEqual(['first', 'during', 'during', 'during'])
  })

  it('rejects while the file cannot be synced, and syncs once it can', async () => {
    dir = tempDir('wal-sync-')
    const file = join(dir, 'relay.sqlite-wal')
    wal = createWalSync(file)
    await expect(wal.sync()).rejects.toMatchObject({ code: 'ENOENT' })
    writeFileSync(file, 'frames')
    await expect(wal.sync()).resolves.toBeUndefined()
  })
})
