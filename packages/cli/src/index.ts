export { main } from './main';
export { VERSION } from './version';
