// A virtual MicroPython board on stdin/stdout, for mpremote without hardware.
//
// usage: node virtual_board.mjs [--heap BYTES] [--mount HOST_DIR=BOARD_DIR ...] [--dump DIR]
//
// MicroPython's WebAssembly port (npm @micropython/micropython-webassembly-pyscript)
// exposes its event-driven REPL as replInit() / replProcessChar(byte). This
// script feeds it every byte read from stdin and writes everything it prints
// to stdout, so a serial line (virtual_board.py puts a pseudo-terminal in
// front of it) sees the same friendly and raw REPL as an ESP32's USB port:
// mpremote enters the raw REPL, soft-resets, execs code and copies files for
// real into the board's in-memory filesystem.
//
// Where the port differs from a board, and what this script does about it:
// - Raw-paste mode (Ctrl-E A Ctrl-A) reads the pasted code through
//   mp_hal_stdin_rx_chr(), which the WebAssembly port defines as (0): it
//   never returns input, so the REPL would spin on NUL bytes. The script
//   answers the request with "R\x00" ("raw-paste not supported", the reply the
//   raw REPL protocol defines for boards without it) and mpremote falls back
//   to the plain raw REPL.
// - A soft reset (Ctrl-D at an empty prompt, or SystemExit) cannot restart
//   the WebAssembly instance without losing its filesystem, so the script
//   prints "MPY: soft reboot" like a board, forgets imported modules and
//   globals, and restarts the REPL in the mode it was in. boot.py and main.py
//   are not run: there is no machine/network hardware here to run them on.
// - Ctrl-C cannot interrupt running code (input is read between commands).
//
// On end of input (the Python side closes the pipe) the filesystem is written
// to --dump DIR so tests can look at what landed on the "flash".
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
import path from "node:path";

const args = process.argv.slice(2);
let heap = 2 * 1024 * 1024;
let dump = null;
const mounts = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--heap") heap = parseInt(args[++i], 10);
  else if (args[i] === "--dump") dump = args[++i];
  else if (args[i] === "--mount") mounts.push(args[++i]);
  else {
    process.stderr.write(`virtual_board: unknown argument ${args[i]}\n`);
    process.exit(2);
  }
}

let pending = [];
let muted = false;
const emit = (b) => { if (!muted) pending.push(b); };
const mp = await loadMicroPython({
  heapsize: heap,
  linebuffer: false,
  stdout: (bytes) => { for (const b of bytes) emit(b); },
  stderr: (bytes) => { for (const b of bytes) emit(b); },
});

function flush() {
  if (pending.length) {
    const data = Buffer.from(pending);
    pending = [];
    let off = 0;
    while (off < data.length) off += fs.writeSync(1, data, off);
  }
}

function say(text) { for (const b of Buffer.from(text, "latin1")) emit(b); }

function mkdirs(p) {
  let cur = "";
  for (const part of p.split("/").filter(Boolean)) {
    cur += "/" + part;
    try { mp.FS.mkdir(cur); } catch (e) { /* exists */ }
  }
}

function copyIn(hostDir, boardDir) {
  mkdirs(boardDir);
  for (const entry of fs.readdirSync(hostDir, { withFileTypes: true })) {
    const src = path.join(hostDir, entry.name);
    const dst = boardDir.replace(/\/$/, "") + "/" + entry.name;
    if (entry.isDirectory()) {
      if (entry.name !== "__pycache__") copyIn(src, dst);
    } else {
      mp.FS.writeFile(dst, fs.readFileSync(src));
    }
  }
}

function copyOut(boardDir, hostDir) {
  fs.mkdirSync(hostDir, { recursive: true });
  for (const name of mp.FS.readdir(boardDir)) {
    if (name === "." || name === "..") continue;
    const src = (boardDir === "/" ? "" : boardDir) + "/" + name;
    if (boardDir === "/" && ["dev", "proc", "tmp", "home"].includes(name)) continue;
    const st = mp.FS.stat(src);
    if (mp.FS.isDir(st.mode)) copyOut(src, path.join(hostDir, name));
    else fs.writeFileSync(path.join(hostDir, name), mp.FS.readFile(src));
  }
}

// A board's flash has /lib on sys.path (ESP32: ['', '.frozen', '/lib']) and
// starts in /. The WebAssembly port raises OSError with Emscripten's errno
// numbers (ENOENT is 44, EEXIST 20) while its errno module and every board
// use the POSIX ones (2, 17); mpremote tells "no such file" from other
// errors by that number, so os and open() are wrapped to translate.
const BOOT_STATE = `
def _boot():
    import sys, os, errno, builtins
    if '/lib' not in sys.path:
        sys.path.append('/lib')
    os.chdir('/')
    # Emscripten errno -> (name, Linux errno) for boards whose errno module lacks the name.
    wasm = {44: ('ENOENT', 2), 20: ('EEXIST', 17), 54: ('ENOTDIR', 20), 31: ('EISDIR', 21),
            55: ('ENOTEMPTY', 39), 28: ('EINVAL', 22), 2: ('EACCES', 13), 63: ('EPERM', 1), 29: ('EIO', 5),
            8: ('EBADF', 9), 51: ('ENOSPC', 28), 10: ('EBUSY', 16), 69: ('EROFS', 30)}
    posix = {}
    for code in wasm:
        posix[code] = getattr(errno, wasm[code][0], wasm[code][1])
    def translating(f):
        def call(*args):
            try:
                return f(*args)
            except OSError as e:
                if e.errno in posix:
                    raise OSError(posix[e.errno])
                raise
        call.untranslated = f
        return call
    for name in ('stat', 'mkdir', 'remove', 'unlink', 'rmdir', 'rename', 'listdir', 'ilistdir', 'chdir', 'statvfs'):
        if hasattr(os, name):
            setattr(os, name, translating(getattr(os, name)))
    if not hasattr(builtins.open, 'untranslated'):
        builtins.open = translating(builtins.open)
_boot()
del _boot
`;

function softReset(raw) {
  say("MPY: soft reboot\r\n");
  muted = true;
  mp.runPython(
    "def _reset():\n    import sys, gc\n    for k in list(sys.modules):\n        del sys.modules[k]\n" +
    "    g = globals()\n    for k in list(g):\n        if not k.startswith('__'):\n            del g[k]\n    gc.collect()\n" +
    "_reset()\n" + BOOT_STATE,
  );
  mp.replInit();
  if (raw) mp.replProcessChar(0x01);
  muted = false;
  if (raw) say("raw REPL; CTRL-B to exit\r\n>");
  else say("MicroPython (virtual board, WebAssembly port)\r\n>>> ");
}

for (const m of mounts) {
  const at = m.indexOf("=");
  copyIn(m.slice(0, at), m.slice(at + 1));
}
mp.runPython(BOOT_STATE);
mp.replInit();

let raw = false;
let held = [];  // bytes of a possible raw-paste request, Ctrl-E 'A' Ctrl-A
const RAW_PASTE = [0x05, 0x41, 0x01];

function feed(c) {
  if (c === 0x01) raw = true;
  else if (c === 0x02) raw = false;
  if (mp.replProcessChar(c)) softReset(raw);
}

function handle(c) {
  if (raw && (held.length || c === RAW_PASTE[0])) {
    if (c === RAW_PASTE[held.length]) {
      held.push(c);
      if (held.length === RAW_PASTE.length) {
        held = [];
        say("R\x00");
      }
      return;
    }
    const replay = held;
    held = [];
    for (const b of replay) feed(b);
  }
  feed(c);
}

const buf = Buffer.alloc(4096);
for (;;) {
  flush();
  let n;
  try {
    n = fs.readSync(0, buf, 0, buf.length, null);
  } catch (e) {
    if (e.code === "EAGAIN") { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); continue; }
    if (e.code === "EOF") n = 0;
    else throw e;
  }
  if (n === 0) break;
  for (let i = 0; i < n; i++) handle(buf[i]);
}
flush();
if (dump) copyOut("/", dump);
process.exit(0);
