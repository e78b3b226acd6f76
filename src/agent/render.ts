import chalk from 'chalk';
import type { AgentStatus, AgentUpResult } from './commands.js';

export function renderAgentStatus(s: AgentStatus): string {
  const state = s.state === 'running' ? chalk.green(s.state) : s.state === 'absent' ? s.state : chalk.red(s.state);
  const lines = [
    `agent ${s.project} on host ${s.host}: ${state}${s.leader === true ? ' (leader)' : s.leader === false ? ' (follower: another agent leads this host)' : ''}`,
    `  container  ${s.container}${s.image ? ` (${s.image})` : ''}`,
    `  metrics    ${s.metricsUrl}`,
    `  api        ${s.apiUrl ?? 'none yet'}`,
  ];
  if (s.startedAt) lines.push(`  started    ${s.startedAt}`);
  for (const loop of s.loops) {
    lines.push(`  loop ${loop.name.padEnd(12)} every ${loop.intervalMs / 1000}s, ${loop.ticks} ticks, ${loop.failures} failed${loop.lastError ? `; last error: ${loop.lastError}` : ''}`);
  }
  if (s.heartbeats === null) lines.push('  heartbeats unknown (the admin database did not answer)');
  for (const b of s.heartbeats ?? []) {
    const age = `${b.ageSeconds}s ago`;
    lines.push(`  heartbeat  ${b.host.padEnd(16)} ${b.silent ? chalk.red(`${age}: SILENT`) : age} (${b.instance}${b.leader ? ', leader' : ''})${b.silentSince ? `; reported silent at ${b.silentSince}` : ''}`);
  }
  return lines.join('\n');
}

export function renderAgentUp(r: AgentUpResult): string {
  const sched = `schedules: ${r.schedules.added} added, ${r.schedules.changed} changed, ${r.schedules.removed} removed`;
  const days = r.suspensionPolicy.deprovisionAfterDays;
  const policy = `suspension policy ${days === null ? 'off' : `${days} days`}${r.suspensionPolicy.changed ? ' (recorded)' : ''}`;
  return `${chalk.green('✓')} agent ${r.recreated ? 'started' : 'already up to date'} (${r.image ?? 'no image'}); ${sched}; ${policy}\n${renderAgentStatus(r)}`;
}

export function renderAgentDown(r: { project: string; removed: string[]; warnings: string[] }): string {
  const warned = r.warnings.map((w) => `\n${chalk.yellow('!')} ${w}`).join('');
  return (r.removed.length ? `${chalk.green('✓')} agent stopped: removed ${r.removed.join(', ')} (compose project ${r.project}); its files stay for the next agent up` : `no agent was running (compose project ${r.project})`) + warned;
}
