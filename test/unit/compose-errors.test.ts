import { describe, expect, it } from 'vitest';
import { composeFailureReason } from '../../src/stack/compose-errors.js';

// stderr of real compose runs (Debian's docker-compose 1.29 and trixie's 2.26 on Engine 20.10),
// captured verbatim; only the container ids are shortened.
const v1Unhealthy = `
ERROR: for app  Container "b4be68cfebd3" is unhealthy.
Encountered errors while bringing up the project.`;

const v1PortTaken = `Creating cv2test-portb1_redis_1 ... \r
Host is already in use by another container
Creating cv2test-portb1_redis_1 ... error\r

ERROR: for cv2test-portb1_redis_1  Cannot start service redis: driver failed programming external connectivity on endpoint cv2test-portb1_redis_1 (6816): Bind for 127.0.0.1:42101 failed: port is already allocated

ERROR: for redis  Cannot start service redis: driver failed programming external connectivity on endpoint cv2test-portb1_redis_1 (6816): Bind for 127.0.0.1:42101 failed: port is already allocated
Encountered errors while bringing up the project.`;

const v2Unhealthy = ` Container cv2test-sick2-sick-1  Waiting
 Container cv2test-sick2-sick-1  Error
dependency failed to start: container cv2test-sick2-sick-1 is unhealthy`;

const v2PoolOverlap = ` Network cv2test-pool2_tenant  Creating
 Network cv2test-pool2_tenant  Error
failed to create network cv2test-pool2_tenant: Error response from daemon: Pool overlaps with other one on this address space`;

describe('composeFailureReason', () => {
  it('names the failing service and compose v1\'s reason, not its last line', () => {
    expect(composeFailureReason(v1Unhealthy)).toBe('app: Container "b4be68cfebd3" is unhealthy.');
  });

  it('keeps one reason per service when v1 names the container too', () => {
    const reason = composeFailureReason(v1PortTaken);
    expect(reason).toMatch(/^redis: Cannot start service redis: .*Bind for 127\.0\.0\.1:42101 failed: port is already allocated$/);
    expect(reason).not.toContain('Encountered errors');
  });

  it('keeps compose v2\'s reason lines', () => {
    expect(composeFailureReason(v2Unhealthy)).toBe('dependency failed to start: container cv2test-sick2-sick-1 is unhealthy');
    expect(composeFailureReason(v2PoolOverlap)).toBe('failed to create network cv2test-pool2_tenant: Error response from daemon: Pool overlaps with other one on this address space');
  });

  it('falls back to the last line that says error', () => {
    expect(composeFailureReason('something\nservice "x" refers to undefined network y: invalid compose project')).toMatch(/invalid compose project/);
  });
});
