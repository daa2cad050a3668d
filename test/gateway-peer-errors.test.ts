// The one mapping table (status-codes/peer-errors.ts): the engine's own codes decide the kind whatever the text
// says; webOS's coarse codes (-1, -2, -5) fall back to the install service's fixed texts.
import { EngineErrorCode } from '../status-codes/engine';
import { ErrorText } from '../status-codes';
import { classifyBusError, thunderError } from '../status-codes/peer-errors';

test('engine codes classify without reading the text', () => {
  expect(classifyBusError(EngineErrorCode.CANCEL_REFUSED, 'operation 7 is not installed')).toBe('invalidParams');
  expect(classifyBusError(EngineErrorCode.TOO_MANY, 'anything')).toBe('busy');
  expect(classifyBusError(EngineErrorCode.APP_LOCKED, 'not locked')).toBe('locked');
  expect(classifyBusError(EngineErrorCode.WRONG_HANDLE, 'locked')).toBe('wrongHandle');
  expect(classifyBusError(EngineErrorCode.NOT_LOCKED, 'x')).toBe('wrongHandle');
  expect(classifyBusError(EngineErrorCode.WRONG_PARAMS, 'No such id')).toBe('invalidParams');
});

test('webOS coarse codes fall back to the fixed texts', () => {
  expect(classifyBusError(-2, ErrorText.NO_SUCH_ID)).toBe('notInstalled');
  expect(classifyBusError(-1, ErrorText.DUPLICATE_COMMAND)).toBe('busy');
  expect(classifyBusError(-1, 'Denied method call "install" for category "/"')).toBe('denied');
});

test('Thunder: a refused cancel is 1001, a full table 1002', () => {
  expect(thunderError('invalidParams')).toEqual({ code: 1001, message: 'ERROR_WRONG_PARAMS' });
  expect(thunderError('busy')).toEqual({ code: 1002, message: 'ERROR_TOO_MANY_REQUESTS' });
});
