export { type AssetsLocation, type FindAssetsOptions, findAssetsDir, findWorkspaceRoot } from './assets';
export { VERSION } from './version';
