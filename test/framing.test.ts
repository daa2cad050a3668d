// The NDJSON decoder and the message shape checks, without sockets.
import { FrameDecoder, FrameError, encodeFrame, encodeIncomingCall, encodeReply, parseClientFrame, parseHubFrame } from '../ipc/framing';

function decoder(max = 64, parse: (l: string) => unknown = parseClientFrame) {
  const frames: unknown[] = [];
  const errors: string[] = [];
  const d = new FrameDecoder<unknown>({ maxFrameBytes: max, parse, onFrame: (f) => frames.push(f), onError: (e) => errors.push(e.reason) });
  return { d, frames, errors };
}

describe('FrameDecoder', () => {
  it('splits frames at newlines, across and within chunks', () => {
    const { d, frames, errors } = decoder(1000);
    const text = '{"t":"hello"}\n{"t":"cancel","token":1}\n{"t":"cancel","token":2}\n';
    // every split point, byte by byte
    for (let cut = 0; cut <= text.length; cut++) {
      d.push(Buffer.from(text.slice(0, cut)));
      d.push(Buffer.from(text.slice(cut)));
    }
    expect(errors).toEqual([]);
    expect(frames).toHaveLength(3 * (text.length + 1));
    expect(frames.slice(0, 3)).toEqual([{ t: 'hello' }, { t: 'cancel', token: 1 }, { t: 'cancel', token: 2 }]);
    const one = decoder(1000);
    for (const b of Buffer.from(text)) one.d.push(Buffer.from([b]));
    expect(one.frames).toHaveLength(3);
    expect(one.d.bufferedBytes).toBe(0);
  });

  it('decodes UTF-8 split inside a character', () => {
    const { d, frames } = decoder(1000, (l) => JSON.parse(l));
    const b = Buffer.from('{"s":"é中😀"}\n');
    d.push(b.subarray(0, 7));
    d.push(b.subarray(7, 9));
    d.push(b.subarray(9));
    expect(frames).toEqual([{ s: 'é中😀' }]);
  });

  it('accepts a frame of exactly the maximum and refuses one byte more, before the newline arrives', () => {
    const frame = '{"t":"hello","name":"' + 'a'.repeat(64 - 23) + '"}';
    expect(Buffer.byteLength(frame)).toBe(64);
    const ok = decoder(64);
    ok.d.push(Buffer.from(frame + '\n'));
    expect(ok.errors).toEqual([]);
    expect(ok.frames).toHaveLength(1);
    const big = decoder(64);
    big.d.push(Buffer.from(frame.slice(0, 40)));
    big.d.push(Buffer.from(frame.slice(40) + 'x')); // 65 bytes buffered, no newline yet
    expect(big.errors).toEqual(['frame of more than 64 bytes']);
    big.d.push(Buffer.from('\n{"t":"hello"}\n')); // dead after an error
    expect(big.frames).toEqual([]);
  });

  it('refuses a long frame that arrives in one chunk with its newline', () => {
    const { d, errors } = decoder(10);
    d.push(Buffer.from('{"t":"hello","name":"abcdef"}\n'));
    expect(errors).toEqual(['frame of more than 10 bytes']);
  });

  it('reports a frame cut off by the end of the stream, and is quiet after a clean end', () => {
    const cut = decoder();
    cut.d.push(Buffer.from('{"t":"hel'));
    cut.d.end();
    expect(cut.errors).toEqual(['stream ended inside a frame (9 bytes without a newline)']);
    const clean = decoder();
    clean.d.push(Buffer.from('{"t":"hello"}\n'));
    clean.d.end();
    expect(clean.errors).toEqual([]);
  });

  it('stops at the first bad frame and ignores the rest of the chunk', () => {
    const { d, frames, errors } = decoder();
    d.push(Buffer.from('{"t":"hello"}\nnot json\n{"t":"hello"}\n'));
    expect(frames).toEqual([{ t: 'hello' }]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^frame is not JSON/);
    expect(d.failed).toBe(true);
  });

  it('stop() from inside onFrame ends decoding at once', () => {
    const frames: unknown[] = [];
    const d: FrameDecoder<unknown> = new FrameDecoder<unknown>({
      maxFrameBytes: 100, parse: parseClientFrame, onError: () => undefined,
      onFrame: (f) => { frames.push(f); d.stop(); },
    });
    d.push(Buffer.from('{"t":"hello"}\n{"t":"hello"}\n'));
    expect(frames).toHaveLength(1);
  });

  it('scans each byte once: many small frames in one big chunk, and one big frame in many chunks', () => {
    const { d, frames } = decoder(2 * 1024 * 1024);
    d.push(Buffer.from('{"t":"cancel","token":1}\n'.repeat(100000)));
    expect(frames).toHaveLength(100000);
    const big = decoder(2 * 1024 * 1024);
    const payload = '{"t":"signal","uri":"luna://a.b/c","payload":{"x":"' + 'y'.repeat(1024 * 1024) + '"}}\n';
    for (let i = 0; i < payload.length; i += 100) big.d.push(Buffer.from(payload.slice(i, i + 100)));
    expect(big.errors).toEqual([]);
    expect(big.frames).toHaveLength(1);
  });
});

describe('parseClientFrame', () => {
  it.each([
    ['', 'empty frame'],
    ['{', /^frame is not JSON/],
    ['[]', 'frame is not a JSON object'],
    ['5', 'frame is not a JSON object'],
    ['null', 'frame is not a JSON object'],
    ['{}', 'unknown message type missing'],
    ['{"t":"nope"}', 'unknown message type "nope"'],
    ['{"t":5}', 'unknown message type number'],
    ['{"t":"welcome","name":null,"uniqueId":":1.1","peer":{}}', 'unknown message type "welcome"'],
    ['{"t":"hello","name":5}', '"hello" frame: field "name" must be a string or null'],
    ['{"t":"methods","category":"/","methods":[1]}', '"methods" frame: field "methods" must be an array of strings'],
    ['{"t":"call","token":-1,"uri":"luna://a.b/c","payload":{}}', '"call" frame: field "token" must be a non-negative integer'],
    ['{"t":"call","token":1e300,"uri":"luna://a.b/c","payload":{}}', '"call" frame: field "token" must be a non-negative integer'],
    ['{"t":"call","token":1.5,"uri":"luna://a.b/c","payload":{}}', '"call" frame: field "token" must be a non-negative integer'],
    ['{"t":"call","token":1,"uri":"luna://a.b/c","payload":[]}', '"call" frame: field "payload" must be a JSON object'],
    ['{"t":"call","token":1,"uri":"luna://a.b/c"}', '"call" frame: field "payload" must be a JSON object'],
    ['{"t":"call","token":1,"uri":"luna://a.b/c","payload":{},"appId":7}', '"call" frame: field "appId" must be a string'],
    ['{"t":"reply","token":1,"payload":{},"last":"yes"}', '"reply" frame: field "last" must be a boolean'],
    ['{"t":"cancel"}', '"cancel" frame: field "token" must be a non-negative integer'],
    ['{"t":"signal","uri":1,"payload":{}}', '"signal" frame: field "uri" must be a string'],
  ])('%s → %s', (line, reason) => {
    let err: unknown;
    try {
      parseClientFrame(line);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FrameError);
    if (typeof reason === 'string') expect((err as FrameError).reason).toBe(reason);
    else expect((err as FrameError).reason).toMatch(reason);
  });

  it('accepts every well-formed client message, extra fields included', () => {
    for (const m of [
      { t: 'hello' }, { t: 'hello', name: null }, { t: 'hello', name: 'a.b' },
      { t: 'methods', category: '/', methods: [] },
      { t: 'call', token: 0, uri: 'x', payload: {}, appId: 'a' },
      { t: 'cancel', token: 3 }, { t: 'reply', token: 1, payload: { a: [1] }, last: true },
      { t: 'signal', uri: 'luna://a.b/c', payload: {}, extra: 1 },
    ]) expect(parseClientFrame(JSON.stringify(m))).toEqual(m);
  });
});

describe('parseHubFrame and encoders', () => {
  it('round-trips hub messages and refuses client-only types', () => {
    const msgs = [
      { t: 'welcome', name: null, uniqueId: ':1.1', peer: { pid: 1, uid: 0, gid: 0, exe: null } },
      { t: 'refused', errorCode: -1028, errorText: 'x' },
      { t: 'reply', token: 1, payload: {}, last: true },
      { t: 'call', token: 1, sender: null, senderId: ':1.2', category: '/', method: 'm', payload: {}, peer: { pid: 1, uid: 0, gid: 0, exe: null } },
      { t: 'cancel', token: 1 },
    ] as const;
    for (const m of msgs) expect(parseHubFrame(encodeFrame(m).slice(0, -1))).toEqual(m);
    expect(() => parseHubFrame('{"t":"hello"}')).toThrow('unknown message type "hello"');
    expect(() => parseHubFrame('{"t":"refused","errorCode":"x","errorText":""}')).toThrow('field "errorCode" must be a number');
  });

  it('encodeReply writes the same bytes as encodeFrame', () => {
    const p = { a: 1, s: 'é\n"' };
    expect(encodeReply(7, p, true)).toBe(encodeFrame({ t: 'reply', token: 7, payload: p, last: true }));
    expect(encodeReply(7, p, false)).toBe(encodeFrame({ t: 'reply', token: 7, payload: p }));
    expect(encodeReply(7, p, undefined)).toBe(encodeFrame({ t: 'reply', token: 7, payload: p }));
  });

  it('encodeIncomingCall writes the same bytes as encodeFrame', () => {
    const peer = { pid: 5, uid: 0, gid: 0, exe: '/usr/bin/node' };
    const payload = { x: ['é', null], subscribe: true };
    expect(encodeIncomingCall(3, 'a.b', ':1.2', 'com.app', '/c', 'm', payload, JSON.stringify(peer))).toBe(
      encodeFrame({ t: 'call', token: 3, sender: 'a.b', senderId: ':1.2', appId: 'com.app', category: '/c', method: 'm', payload, peer }),
    );
    expect(encodeIncomingCall(3, null, ':1.2', undefined, '/', 'm', {}, JSON.stringify(peer))).toBe(
      encodeFrame({ t: 'call', token: 3, sender: null, senderId: ':1.2', category: '/', method: 'm', payload: {}, peer }),
    );
  });
});
