export { type ConfigValues, normalizeConfig, readConfigFile } from './config-file';
export { EXIT_INTERNAL_ERROR, EXIT_USER_ERROR, isUserError, UsageError } from './errors';
export { main } from './main';
export { type CliOptions, type CommandName, COMMANDS, OPTION_SPECS, type OptionSpec } from './options';
export { VERSION } from './version';
