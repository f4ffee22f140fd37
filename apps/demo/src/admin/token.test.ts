import { ConfigError } from '@morgan/session-server';
import { describe, expect, it } from 'vitest';
import { adminTokenFromEnv, generateAdminToken } from './token.js';

describe('adminTokenFromEnv', () => {
  it('takes MORGAN_ADMIN_TOKEN as it is', () => {
    const token = 'correct-horse-battery-staple';
    expect(adminTokenFromEnv({ MORGAN_ADMIN_TOKEN: token })).toEqual({ token, generated: false });
  });

  it('draws a random 43-character token when the variable is unset or empty', () => {
    for (const env of [{}, { MORGAN_ADMIN_TOKEN: '' }, { MORGAN_ADMIN_TOKEN: '  ' }]) {
      const { token, generated } = adminTokenFromEnv(env);
      expect(generated).toBe(true);
      expect(token).toMatch(/^[\w-]{43}$/);
    }
    expect(generateAdminToken()).not.toBe(generateAdminToken());
  });

  it('stops start-up on a short or spaced token, naming the variable but not the value', () => {
    for (const bad of ['short', 'x'.repeat(15), 'has spaces in the token', 'x'.repeat(257)]) {
      let thrown: unknown;
      try {
        adminTokenFromEnv({ MORGAN_ADMIN_TOKEN: bad });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      const { message } = thrown as ConfigError;
      expect(message).toContain('MORGAN_ADMIN_TOKEN');
      expect(message).toMatch(/16 to 256 characters|without spaces/);
      expect(message).not.toContain(bad);
    }
  });
});
