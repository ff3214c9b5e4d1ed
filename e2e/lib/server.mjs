// Starts the chat-server binary on a free port with a fresh SQLite database
// in a temporary directory, and keeps its log (the development mailer writes
// reset links there). `startApp` starts another program that serves the chat
// (an example that nests it) the same way.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where cargo put a build: `$CARGO_TARGET_DIR/debug/...`, else `target/debug/...`. */
export function built(...path) {
  return resolve(ROOT, process.env.CARGO_TARGET_DIR || 'target', 'debug', ...path);
}

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

export function startServer(env = {}) {
  return startApp({ binary: process.env.CHAT_SERVER_BIN || built('chat-server'), env });
}

/**
 * Starts `binary` with `args(listen)` (`listen` is `127.0.0.1:PORT`, also in
 * CHAT_LISTEN) and waits until `health` answers.
 */
export async function startApp({ binary, args = () => [], health = '/healthz', env = {} }) {
  const dir = mkdtempSync(join(tmpdir(), 'chat-e2e-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  let child;
  let exited;
  const spawnServer = async () => {
    child = spawn(binary, args(`127.0.0.1:${port}`), {
      cwd: dir,
      env: {
        // The embedded default: no CHAT_* setting of the caller's leaks in.
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CHAT_'))),
        CHAT_LISTEN: `127.0.0.1:${port}`,
        CHAT_DATA_DIR: dir,
        CHAT_PUBLIC_URL: url,
        RUST_LOG: 'info',
        // Every test user signs up from 127.0.0.1.
        CHAT_SIGNUP_MAX_PER_CLIENT: '1000',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk) => (log += chunk));
    child.stderr.on('data', (chunk) => (log += chunk));
    exited = new Promise((ok) => child.on('exit', ok));

    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`chat-server exited (${child.exitCode}):\n${log}`);
      try {
        if ((await fetch(url + health)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`chat-server did not start:\n${log}`);
      await new Promise((ok) => setTimeout(ok, 100));
    }
  };
  const kill = async () => {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, 10_000))]);
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  await spawnServer();

  return {
    url,
    log: () => log,
    /** The reset link the development mailer wrote for `email`, once it appears. */
    async resetLink(email, timeout = 10_000) {
      const end = Date.now() + timeout;
      while (Date.now() < end) {
        // Each mail: the body (with the link), then `to=<address>`.
        const mails = log.split('development mailer');
        for (const mail of mails.reverse()) {
          const link = mail.match(/(http\S+#reset-token=[\w-]+)/);
          if (link && mail.includes(`to=${email}`)) return link[1];
        }
        await new Promise((ok) => setTimeout(ok, 100));
      }
      throw new Error(`no reset mail for ${email} in the log`);
    },
    /** Stops the server; its data stays for `start()`. */
    stop: kill,
    /** Starts it again on the same port and data. */
    start: spawnServer,
    /** Stops it for good and deletes its data. */
    async dispose() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
