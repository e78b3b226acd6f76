import { describe, expect, it } from 'vitest';
import { environmentInterpolation } from '../../src/templates/interpolation.js';

describe('interpolation from the environment in a rendered compose tree', () => {
  it('finds ${VAR}, ${VAR:-default}, $VAR and a lone $, in values and keys', () => {
    expect(environmentInterpolation({ services: { app: { environment: { A: '${HOME}' } } } })).toBe('services.app.environment.A: ${HOME}');
    expect(environmentInterpolation({ services: { app: { command: ['x', 'a${B:-c}'] } } })).toBe('services.app.command.1: ${B:-c}');
    expect(environmentInterpolation({ services: { app: { environment: ['X=$USER'] } } })).toBe('services.app.environment.0: $USER');
    expect(environmentInterpolation({ services: { app: { environment: { A: 'cost $' } } } })).toBe('services.app.environment.A: $');
    expect(environmentInterpolation({ services: { '${X}': { image: 'a' } } })).toBe('services: ${X}');
  });

  it('allows $$ (a literal $), however many', () => {
    expect(environmentInterpolation({ services: { app: { healthcheck: { test: ['CMD-SHELL', '[ "$$(redis-cli)" = PONG ] && echo $$$$'] }, environment: { N: 'Sample $$HOME' } } } })).toBeUndefined();
  });
});
