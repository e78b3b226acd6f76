// The location rules shared by routed and suspended tenants are written once (render.ts); each file's
// comment on the gateway's suspended header says what it means there.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { renderFrontdoor, type RouteInput } from '../../src/frontdoor/render.js';
import { tempDir } from './temp-dirs.js';

describe('frontdoor location rules', () => {
  it("explains the suspended header per file: 'suspended since rendered' only for routed tenants", () => {
    const { config } = loadConfig({ cwd: tempDir('rules-'), env: {} });
    const tenants: RouteInput[] = [
      { id: 'acme', plan: 'standard', status: 'active', appPort: 3001, domains: [], snippet: false },
      { id: 'beta', plan: 'standard', status: 'suspended', suspensionReason: 'unpaid', appPort: 3002, domains: [], snippet: false },
    ];
    const files = renderFrontdoor({ config: config!.frontdoor, upstreamAddress: '127.0.0.1', hostCores: 2, generation: 1, tenants });
    const sinceRendered = 'A tenant suspended since this generation was rendered';
    expect(files.get('locations.conf')).toContain(sinceRendered);
    expect(files.get('suspended-locations.conf')).not.toContain(sinceRendered);
    expect(files.get('suspended-locations.conf')).toContain("The gateway's refusal of this suspended tenant's keys says so (X-Tenantctl-Suspended).");
  });
});
