// Node driver for tests/support/micropython.py: runs Python code under the real
// MicroPython interpreter (WebAssembly port, npm package
// @micropython/micropython-webassembly-pyscript).
//
// Input: one JSON object on stdin:
//   {"code": "...", "heapsize": 1048576 | null, "paths": {"/fw": "/host/dir", ...}}
// Every *.py file under each host dir (subfolders kept) is copied into the
// interpreter's in-memory filesystem at the given directory, and that directory is
// put at the front of sys.path.
//
// Output: MicroPython's stdout/stderr go to this process's stdout/stderr. The exit
// code is 0 on success, 1 if the code raised (traceback on stderr) or an asyncio
// background task died with an exception nobody retrieved.
//
// The code runs with runPythonAsync, so top-level `await` works. This port has no
// asyncio.run(): its event loop is the JS event loop. Tasks still pending when the
// code finishes are abandoned (we exit instead of waiting for them forever).

import fs from "node:fs";
import path from "node:path";
// Resolved through the node_modules folder next to the repo's package.json.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

// Collects the bytes MicroPython writes and passes them on line by line, so output
// arrives in order and is not lost if the process is killed on a timeout.
function byteSink(stream) {
  let pending = [];
  const flush = () => {
    if (pending.length) {
      stream.write(Uint8Array.from(pending));
      pending = [];
    }
  };
  const write = (bytes) => {
    for (const b of bytes) {
      pending.push(b);
      if (b === 10) flush(); // newline
    }
  };
  return { write, flush };
}

// mkdir -p inside the Emscripten filesystem.
function makeDirs(FS, dir) {
  let current = "";
  for (const part of dir.split("/").filter(Boolean)) {
    current += "/" + part;
    if (!FS.analyzePath(current).exists) FS.mkdir(current);
  }
}

// Copy hostDir/**/*.py to wasmDir, keeping subfolders (e.g. packages).
function copyPyFiles(FS, hostDir, wasmDir) {
  makeDirs(FS, wasmDir);
  for (const entry of fs.readdirSync(hostDir, { withFileTypes: true })) {
    const hostPath = path.join(hostDir, entry.name);
    const wasmPath = wasmDir + "/" + entry.name;
    if (entry.isDirectory()) {
      copyPyFiles(FS, hostPath, wasmPath);
    } else if (entry.name.endsWith(".py")) {
      FS.writeFile(wasmPath, fs.readFileSync(hostPath));
    }
  }
}

const stdout = byteSink(process.stdout);
const stderr = byteSink(process.stderr);

// Runs before the test code: reports asyncio tasks that die with an exception
// nobody awaited. On a device those only get printed, which is easy to miss.
const PRELUDE = `
import asyncio
def _report_task_exception(loop, context):
    import js
    loop.default_exception_handler(loop, context)  # prints the traceback
    js.globalThis.mpTaskFailures += 1
asyncio.get_event_loop().set_exception_handler(_report_task_exception)
del _report_task_exception, asyncio
`;

// Print an error (a message, or an exception) to stderr and exit 1. For a
// MicroPython exception print just its traceback: Node's default report would
// also dump the minified source line of micropython.mjs (~100 kB).
function fail(error) {
  let text = String(error?.stack ?? error);
  if (typeof error === "string") text = error;
  else if (error?.name === "PythonError") text = error.message;
  stdout.flush();
  stderr.write(Buffer.from(text.endsWith("\n") ? text : text + "\n"));
  stderr.flush();
  process.exit(1);
}
// E.g. an error raised from a callback of a JS timer that drives asyncio.
process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);

const job = JSON.parse(fs.readFileSync(0, "utf8"));
const options = { stdout: stdout.write, stderr: stderr.write, linebuffer: false };
// heapsize is the initial GC heap; this variant grows the heap when it fills up.
if (job.heapsize) options.heapsize = job.heapsize;
const mp = await loadMicroPython(options);

const sysPath = [];
for (const [wasmDir, hostDir] of Object.entries(job.paths)) {
  copyPyFiles(mp.FS, hostDir, wasmDir);
  sysPath.push(wasmDir);
}

globalThis.mpTaskFailures = 0;
try {
  // A JSON list of strings is also a valid Python list literal.
  mp.runPython(`import sys\nsys.path[:0] = ${JSON.stringify(sysPath)}\ndel sys\n` + PRELUDE);
  await mp.runPythonAsync(job.code);
} catch (error) {
  fail(error); // PythonError.message holds MicroPython's traceback text
}
if (globalThis.mpTaskFailures > 0) {
  fail(`${globalThis.mpTaskFailures} asyncio task(s) died with an exception (traceback above)`);
}
stdout.flush();
// Exit now: pending asyncio timers would otherwise keep Node alive.
process.exit(0);
