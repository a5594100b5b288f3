import { describe, expect, it } from 'vitest';
import { OwnershipSigner } from '../../src/gateway/cluster/ownership.js';

const SECRET = 'a-fleet-secret-of-at-least-32-characters!';

describe('signed session ownership', () => {
  const signer = new OwnershipSigner(SECRET);

  it('GIVEN a minted id WHEN read THEN it names its owner, in visible ASCII only', () => {
    const id = signer.mint('http://10.0.1.5:8808');
    expect(id).toMatch(/^[\x21-\x7e]+$/);
    expect(signer.read(id)).toEqual({ kind: 'owned', owner: 'http://10.0.1.5:8808' });
    expect(signer.mint('http://10.0.1.5:8808')).not.toBe(id);
  });

  it('GIVEN an id whose owner was swapped WHEN read THEN it is forged', () => {
    const [prefix, , random, mac] = signer.mint('http://10.0.1.5:8808').split('.');
    const swapped = [prefix, Buffer.from('http://169.254.169.254').toString('base64url'), random, mac].join('.');
    expect(signer.read(swapped)).toEqual({ kind: 'forged' });
  });

  it('GIVEN an id signed with another secret WHEN read THEN it is forged', () => {
    const other = new OwnershipSigner('another-fleet-secret-of-32-characters-x').mint('http://10.0.1.5:8808');
    expect(signer.read(other)).toEqual({ kind: 'forged' });
    expect(signer.read('f1.garbage')).toEqual({ kind: 'forged' });
  });

  it('GIVEN an id of another form WHEN read THEN it is plain (a single replica answers it)', () => {
    expect(signer.read('c8fec40f-2262-4a10-9411-96e3540936b1')).toEqual({ kind: 'plain' });
  });
});
