// The end-to-end tests' one reader of the environment: they start the system, its clients and the gpu
// service with this process's variables plus their own settings.

/** This process's environment, for a child process to extend. */
export const inheritedEnv = (): NodeJS.ProcessEnv => ({ ...process.env });
