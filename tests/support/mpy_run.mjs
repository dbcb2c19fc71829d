// Run a Python script under real MicroPython (the official WebAssembly port).
//
// usage: node mpy_run.mjs <script.py> [<host dir>=<mp dir> ...]
// Each host directory is copied recursively into MicroPython's in-memory
// filesystem (e.g. firmware/airkit=/lib/airkit). The script's print() output
// goes to stdout; an uncaught exception prints its traceback to stderr and the
// process exits 1, so a failing script fails its test.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
import path from "node:path";

const [script, ...mounts] = process.argv.slice(2);
let out = "";
let err = "";
const mp = await loadMicroPython({
  heapsize: 2 * 1024 * 1024,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});

function mkdirs(p) {
  let cur = "";
  for (const part of p.split("/").filter(Boolean)) {
    cur += "/" + part;
    try { mp.FS.mkdir(cur); } catch (e) { /* exists */ }
  }
}

function copyIn(hostDir, mpDir) {
  mkdirs(mpDir);
  for (const entry of fs.readdirSync(hostDir, { withFileTypes: true })) {
    const src = path.join(hostDir, entry.name);
    const dst = mpDir + "/" + entry.name;
    if (entry.isDirectory()) {
      if (entry.name !== "__pycache__") copyIn(src, dst);
    } else {
      mp.FS.writeFile(dst, fs.readFileSync(src));
    }
  }
}

for (const m of mounts) {
  const [host, dest] = m.split("=");
  copyIn(host, dest);
}
mkdirs("/work");
const code = fs.readFileSync(script, "utf8");
try {
  mp.runPython("import sys\nsys.path.insert(0, '/lib')\nimport os\nos.chdir('/work')\n");
  await mp.runPythonAsync(code);
} catch (e) {
  process.stderr.write(String(e.message || e) + "\n");
  process.exit(1);
}
