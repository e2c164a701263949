export {
  CorruptFileError,
  DfmError,
  formatShape,
  InvalidArgumentError,
  NotFittedError,
  ShapeMismatchError,
  UnknownBackboneError,
} from './errors';
export { VERSION } from './version';
