import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/resolve.js';

describe('smoke', () => {
  it('defaults resolve', () => {
    const r = resolveConfig({});
    expect(r.ok && r.config.inference_address).toBe('http://127.0.0.1:8080');
  });
});
