import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
const one = Buffer.alloc(1);
function readByte() { for(;;){ try { const n = fs.readSync(0, one, 0, 1, null); if (n === 0) return null; return one[0]; } catch (e) { if (e.code === "EAGAIN") continue; throw e; } } }
const mp = await loadMicroPython({ heapsize: 1024*1024, linebuffer: false,
  stdin: () => { const b = readByte(); fs.writeSync(2, "[stdin "+b+"]"); return b; },
  stdout: (b) => fs.writeSync(1, b),
  stderr: (b) => fs.writeSync(1, b) });
mp.replInit();
for (;;) { const c = readByte(); if (c === null) break; fs.writeSync(2, "<"+c+">"); const r = mp.replProcessChar(c); if (r) fs.writeSync(2, "\n[ret "+r+"]\n"); }
