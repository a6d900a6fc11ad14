// Processes a fault test started, so afterAll can end each of them by its pid and nothing else.

import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Procs {
  /** A child we spawned. */
  track(child: ChildProcess): void;
  /** A pid one of our children spawned (a cluster worker), killed only while its command line still has `marker`. */
  trackPid(pid: number, marker: string): void;
  /** SIGKILLs every tracked process still alive and waits (bounded) for our children to exit. */
  killAll(): Promise<void>;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function exited(child: ChildProcess, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(resolve, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export function procs(): Procs {
  const children: ChildProcess[] = [];
  const pids = new Map<number, string>();
  return {
    track(child) {
      children.push(child);
    },
    trackPid(pid, marker) {
      pids.set(pid, marker);
    },
    async killAll() {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      // A pid is reused once its process is gone: kill it only while it is still the process we saw.
      for (const [pid, marker] of pids) if (alive(pid) && commandLine(pid).includes(marker)) process.kill(pid, 'SIGKILL');
      await Promise.all(children.map((c) => exited(c)));
    },
  };
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}
