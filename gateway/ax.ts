// placeholder
import type { FastifyReply } from 'fastify';
import type { Peer } from './server';
import type { ErrorKind } from '../status-codes/peer-errors';
export function axPeer(): Peer {
  return { name: 'ax', owns: () => false, refuse: (r: FastifyReply, _k: ErrorKind, t: string) => r.code(400).send(t), async register() {} };
}
