export {
  CorruptFileError,
  DfmError,
  type DfmErrorCode,
  type DfmErrorOptions,
  formatShape,
  InvalidArgumentError,
  isDfmError,
  NotFittedError,
  ShapeMismatchError,
} from './dfm-error';
export { VERSION } from './version';
