/**
 * Thrown by a command whose result is a child's exit status (exec, psql, redis-cli): main() returns
 * that code as tenantctl's own, printing nothing (the child printed what it had to say).
 */
export class ChildExited extends Error {
  constructor(readonly exitCode: number) {
    super(`exited with ${exitCode}`);
    this.name = 'ChildExited';
  }
}
