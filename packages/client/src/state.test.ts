import { describe, expect, it, vi } from 'vitest';
import { SessionClientError } from './errors.js';
import {
  type ConnectionState,
  ConnectionStateMachine,
  type ConnectionStatus,
  canTransition,
  connectionTransitions,
} from './state.js';

const statuses: ConnectionStatus[] = [
  'idle',
  'connecting',
  'connected',
  'reconnecting',
  'offline',
  'closed',
];

function sample(status: ConnectionStatus): ConnectionState {
  switch (status) {
    case 'connected':
      return { status, sessionId: '00000000-0000-4000-8000-000000000000' };
    case 'reconnecting':
      return { status, attempt: 2, error: new SessionClientError('NETWORK_ERROR', 'down') };
    case 'closed':
      return { status };
    default:
      return { status };
  }
}

/** Walks a fresh machine to `status` along allowed transitions. */
function machineAt(status: ConnectionStatus, onChange = vi.fn()): ConnectionStateMachine {
  const machine = new ConnectionStateMachine(onChange);
  const path: Record<ConnectionStatus, ConnectionStatus[]> = {
    idle: [],
    connecting: ['connecting'],
    connected: ['connecting', 'connected'],
    reconnecting: ['connecting', 'reconnecting'],
    offline: ['connecting', 'offline'],
    closed: ['closed'],
  };
  for (const step of path[status]) machine.transition(sample(step));
  return machine;
}

describe('ConnectionStateMachine', () => {
  it('starts idle', () => {
    const machine = new ConnectionStateMachine(() => {});
    expect(machine.state).toEqual({ status: 'idle' });
    expect(machine.status).toBe('idle');
  });

  for (const from of statuses) {
    for (const to of statuses) {
      const allowed = connectionTransitions[from].includes(to);
      it(`${allowed ? 'allows' : 'refuses'} ${from} → ${to}`, () => {
        const onChange = vi.fn();
        const machine = machineAt(from, onChange);
        onChange.mockClear();
        const before = machine.state;
        const next = sample(to);
        expect(canTransition(from, to)).toBe(allowed);
        if (allowed) {
          machine.transition(next);
          expect(machine.state).toBe(next);
          expect(onChange).toHaveBeenCalledExactlyOnceWith(next, before);
        } else {
          expect(() => machine.transition(next)).toThrow(`${from} → ${to}`);
          expect(machine.tryTransition(next)).toBe(false);
          expect(machine.state).toBe(before);
          expect(onChange).not.toHaveBeenCalled();
        }
      });
    }
  }

  it('makes closed final', () => {
    expect(connectionTransitions.closed).toEqual([]);
  });

  it('lets every live state reach closed and offline recover both ways', () => {
    for (const status of ['idle', 'connecting', 'connected', 'reconnecting', 'offline'] as const) {
      expect(canTransition(status, 'closed')).toBe(true);
    }
    expect(canTransition('offline', 'reconnecting')).toBe(true);
    expect(canTransition('offline', 'connected')).toBe(true);
  });
});
