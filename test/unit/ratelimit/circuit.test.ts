// The circuit opens on a connection that is not ready or on failures in a row, probes only while
// open, half-opens on an answered probe, and reports each state change once.

import { afterEach, describe, expect, it } from 'vitest';
import { Circuit, type CircuitState } from '../../../src/ratelimit/circuit.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function harness(failures = 3) {
  const changes: string[] = [];
  const state = { connected: true, answers: false, probes: 0, answering: false };
  const circuit = new Circuit({
    failures,
    probeMs: 10,
    connected: () => state.connected,
    probe: async () => {
      state.probes++;
      return state.answers;
    },
    answering: () => state.answering,
    onChange: (to: CircuitState, from: CircuitState) => changes.push(`${from}→${to}`),
  });
  return { circuit, changes, state };
}

describe('Circuit', () => {
  let stop: (() => void) | undefined;
  afterEach(() => stop?.());

  it('stays closed through failures that are not in a row', () => {
    const { circuit, changes } = harness(3);
    stop = () => circuit.stop();
    for (let i = 0; i < 10; i++) {
      circuit.failed('timeout');
      circuit.failed('timeout');
      circuit.succeeded();
    }
    expect(circuit.allows()).toBe(true);
    expect(changes).toEqual([]);
  });

  it('opens after N failures in a row, answers without Redis, and reports the change once', () => {
    const { circuit, changes } = harness(3);
    stop = () => circuit.stop();
    circuit.failed('timeout');
    circuit.failed('timeout');
    expect(circuit.allows()).toBe(true);
    circuit.failed('timeout');
    expect(circuit.state).toBe('open');
    for (let i = 0; i < 100; i++) expect(circuit.allows()).toBe(false);
    circuit.failed('timeout');
    expect(changes).toEqual(['closed→open']);
  });

  it('stays closed through failures in a row while Redis answers other calls (a Cluster node down)', () => {
    const { circuit, changes, state } = harness(3);
    stop = () => circuit.stop();
    state.answering = true;
    for (let i = 0; i < 20; i++) circuit.failed('redis_error');
    expect(circuit.allows()).toBe(true);
    state.answering = false;
    circuit.failed('timeout');
    expect(circuit.state).toBe('open');
    expect(changes).toEqual(['closed→open']);
  });

  it('opens at once on a connection that is not ready', () => {
    const { circuit, changes, state } = harness();
    stop = () => circuit.stop();
    state.connected = false;
    expect(circuit.allows()).toBe(false);
    expect(circuit.allows()).toBe(false);
    expect(changes).toEqual(['closed→open']);
  });

  it('probes while open, only on a ready connection, and half-opens when Redis answers', async () => {
    const { circuit, changes, state } = harness();
    stop = () => circuit.stop();
    state.connected = false;
    circuit.allows();
    await sleep(50);
    expect(state.probes).toBe(0); // refused anyway: ioredis reconnects by itself
    state.connected = true;
    await sleep(50);
    expect(state.probes).toBeGreaterThan(0);
    expect(circuit.state).toBe('open');
    state.answers = true;
    await sleep(50);
    expect(circuit.state).toBe('half_open');
    const probes = state.probes;
    await sleep(50);
    expect(state.probes).toBe(probes); // no probing once Redis is back
    expect(circuit.allows()).toBe(true);
    circuit.succeeded();
    expect(circuit.state).toBe('closed');
    expect(changes).toEqual(['closed→open', 'open→half_open', 'half_open→closed']);
  });

  it('reopens on the first failure while half-open', async () => {
    const { circuit, changes, state } = harness(5);
    stop = () => circuit.stop();
    circuit.open('connection closed');
    state.answers = true;
    circuit.probeNow();
    await sleep(0);
    expect(circuit.state).toBe('half_open');
    circuit.failed('timeout');
    expect(circuit.state).toBe('open');
    expect(changes).toEqual(['closed→open', 'open→half_open', 'half_open→open']);
  });

  it('stops probing and never reopens once stopped', async () => {
    const { circuit, changes, state } = harness();
    circuit.open('connection closed');
    circuit.stop();
    const probes = state.probes;
    await sleep(50);
    expect(state.probes).toBe(probes);
    state.answers = true;
    circuit.probeNow();
    await sleep(0);
    expect(changes).toEqual(['closed→open']);
  });
});
