export { COMMANDS, runCli } from './cli.ts';
export {
  type ConfigFile,
  DEFAULT_PORTS,
  homeDir,
  loadConfig,
  resolveEndpoints,
  saveConfig,
} from './config.ts';
export { type CliEnv, parseCliEnv } from './env.ts';
export { CliError, type CliErrorCode, exitCodeOf } from './errors.ts';
export { freePort, isPortFree } from './up/ports.ts';
export { type System, type SystemOptions, startSystem } from './up/system.ts';
