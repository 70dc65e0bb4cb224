// The relay's process entry (`npm start`, the container's CMD): checks the Node.js version in plain
// JavaScript, then loads the relay: its build in production, else the TypeScript (entry.js).
// Both start node with --max-semi-space-size=8: under load V8 grows each half of its young
// generation to 32 MiB by default. Capped at 8, the relay peaked at 165-230 MiB instead of 249-272
// at max rate, below the bare forwarder's 231-241, for 5-10 % more CPU per event at that rate
// (`npm run bench -- pipeline`, which runs the relay with the flags of `npm start`). Memory is what
// a small server runs out of first; `node bin/start.js` runs without the cap.
import './check-node.js'
import { entry } from './entry.js'

await import(entry('main'))
