import { describe, expect, it } from 'vitest';
import { formatActivity, formatElapsed, ProgressRenderer } from '../../src/cli/progress.js';

/** The progress renderer in-process, with a hand-driven clock (no timers run: the frame interval is an hour). */
function renderer(tty: boolean) {
  let now = 1_000_000;
  let out = '';
  const progress = new ProgressRenderer({ write: (t) => (out += t), tty, now: () => now, frameMs: 3_600_000 });
  return {
    progress,
    advance: (ms: number) => (now += ms),
    output: () => out.replace(/\u001b\[(?:[0-9;]*m)/g, ''),
  };
}

describe('progress rendering', () => {
  it('formats elapsed time for seconds, minutes and hours', () => {
    expect(formatElapsed(8_340)).toBe('8.3s');
    expect(formatElapsed(65_000)).toBe('1m05s');
    expect(formatElapsed(3_720_000)).toBe('1h02m');
  });

  it('not on a terminal: one plain line per step start, end and stack event, with elapsed time', () => {
    const r = renderer(false);
    r.progress.event({ level: 'info', message: 'deploying stack McpFleet', step: { name: 'deploy', state: 'start' } });
    r.advance(12_300);
    r.progress.event({
      level: 'info',
      message: 'ignored: the activity is rendered',
      activity: { stackName: 'McpFleet', logicalId: 'SvcFetchService1A2B', resourceType: 'AWS::ECS::Service', status: 'CREATE_FAILED', reason: 'Resource handler returned message: "Invalid request"', constructPath: 'McpFleet/SvcFetch/Service', completed: 3, total: 40 },
    });
    r.advance(2_000);
    r.progress.event({ level: 'info', message: 'deploying stack McpFleet', step: { name: 'deploy', state: 'end', ok: false } });
    expect(r.output()).toBe(
      '[  0.0s] deploy: deploying stack McpFleet...\n' +
        '[ 12.3s] CREATE_FAILED AWS::ECS::Service McpFleet/SvcFetch/Service (SvcFetchService1A2B) [3/40]: Resource handler returned message: "Invalid request"\n' +
        '[ 14.3s] deploy: failed after 14.3s\n',
    );
  });

  it('on a terminal: a spinner line names the running step and is cleared before each final line', () => {
    const r = renderer(true);
    r.progress.event({ level: 'info', message: 'synthesizing the CloudFormation template of McpFleet (3 services)', step: { name: 'synth', state: 'start' } });
    expect(r.output()).toBe('\r\u001b[2K⠋ synth: synthesizing the CloudFormation template of McpFleet (3 services) (0.0s)');
    r.advance(18_000);
    r.progress.event({ level: 'warn', message: 'pin mcp-searxng' });
    r.progress.event({ level: 'info', message: 'synthesizing the CloudFormation template of McpFleet (3 services)', step: { name: 'synth', state: 'end', ok: true } });
    const lines = r.output().split('\n');
    expect(lines).toEqual([
      '\r\u001b[2K⠋ synth: synthesizing the CloudFormation template of McpFleet (3 services) (0.0s)\r\u001b[2Kwarning: pin mcp-searxng',
      '\r\u001b[2K⠋ synth: synthesizing the CloudFormation template of McpFleet (3 services) (18.0s)\r\u001b[2K[ 18.0s] synth: done in 18.0s',
      '',
    ]);
    // The last step ended: the spinner is gone, nothing is redrawn after it.
    r.progress.stop();
    expect(r.output().endsWith('done in 18.0s\n')).toBe(true);
  });

  it('on a narrow terminal: the spinner line is cut to fit, so it never wraps', () => {
    let out = '';
    const progress = new ProgressRenderer({ write: (t) => (out += t), tty: true, now: () => 0, frameMs: 3_600_000, columns: () => 40 });
    progress.event({ level: 'info', message: "writing the image build context (locking the npm servers' packages through the registry)", step: { name: 'image', state: 'start' } });
    const line = out.replace(/\u001b\[(?:[0-9;]*m|2K)/g, '').replace('\r', '');
    expect(line).toBe('⠋ image: writing the image buil… (0.0s)');
    expect([...line].length).toBeLessThan(40);
    progress.stop();
  });

  it('shows the reason of a stack event only when it failed or rolls back', () => {
    const base = { stackName: 'S', logicalId: 'L', resourceType: 'AWS::X::Y', reason: 'because' } as const;
    expect(formatActivity({ ...base, status: 'CREATE_IN_PROGRESS' })).toBe('CREATE_IN_PROGRESS AWS::X::Y L');
    expect(formatActivity({ ...base, status: 'UPDATE_ROLLBACK_IN_PROGRESS', completed: 5 })).toMatch(/UPDATE_ROLLBACK_IN_PROGRESS AWS::X::Y L \[5\]: because$/);
  });
});
