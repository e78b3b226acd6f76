import type { HostLoad } from './store.js';

// The placements one command has made whose tenant rows may not be in the registry yet. A batch
// places its tenants concurrently, and a tenant's row is written only when its provision reserves
// ports, well after placement; without this tally every placement of a batch reads the same loads
// and picks the same host. Placement reads the registry without these ids and adds them here, so a
// tenant is counted once whether or not its row exists yet.

export class InFlightPlacements {
  private readonly placed = new Map<string, { host: string; memoryBytes: number }>();

  /** The tenants this command has placed: left out of the registry's loads, counted here instead. */
  ids(): string[] {
    return [...this.placed.keys()];
  }

  add(id: string, host: string, memoryBytes: number): void {
    this.placed.set(id, { host, memoryBytes });
  }

  /** The registry's loads (read without ids()) plus this command's placements. */
  addTo(loads: ReadonlyMap<string, HostLoad>): Map<string, HostLoad> {
    const total = new Map([...loads].map(([host, load]) => [host, { ...load }]));
    for (const { host, memoryBytes } of this.placed.values()) {
      const load = total.get(host) ?? { tenants: 0, promisedMemoryBytes: 0 };
      load.tenants += 1;
      load.promisedMemoryBytes += memoryBytes;
      total.set(host, load);
    }
    return total;
  }
}
