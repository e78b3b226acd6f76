import { createInterface } from 'node:readline/promises';

/** Asks on the terminal before something destructive; false without a terminal (scripts pass --yes). */
export async function confirmInteractively(ids: string[]): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const expected = ids.length === 1 ? ids[0]! : 'yes';
    const what = ids.length === 1 ? `${ids[0]}'s` : `the ${ids.length} tenants' (${ids.join(', ')})`;
    const answer = await rl.question(`This removes ${what} containers, network, volumes and data. Type ${ids.length === 1 ? 'the tenant id' : '"yes"'} to confirm: `);
    return answer.trim() === expected;
  } finally {
    rl.close();
  }
}

/** Asks `question` on the terminal; true when the answer is `expected`. False without a terminal (scripts pass --yes). */
export async function askOnTerminal(question: string, expected: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim() === expected;
  } finally {
    rl.close();
  }
}
